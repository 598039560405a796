# Ed-Fi-style InterchangeStaffAssociation XML: one file holds three record
# kinds, so every *.xml becomes three jobs (teacher first, then the records
# that hang on it). Used by `tmisgw load --profile`; see docs/formats.md.
*.xml  staff.map
*.xml  assignment.map
*.xml  credential.map
