# OneRoster 1.1 CSV bundle: member name → mapping. manifest.csv says per file
# whether it is bulk (full snapshot of its scope) or delta; orgs.csv and the
# other OneRoster files carry nothing the teacher schema holds and are skipped.
users.csv   users.map
