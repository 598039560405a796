# Henan (41) provincial export: file name → mapping. One rule a line:
# a shell glob on the input's base name, then a mapping path relative to
# this file's directory. Used by `tmisgw load --profile`.
teacher*.csv            teacher.map
education*.csv          education.map
title_appointment*.csv  title_appointment.map
training*.csv           training.map
