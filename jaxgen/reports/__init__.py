"""Reports: report.md, tables and figures per family, built from the params and the run history
that the loop hands over (jaxgen.train.protocol.History); nothing is read back from disk.

markdown.py holds the Report type and the report.md writer; each family's module holds the
function its task's `report` calls; seeds.py summarizes a many-seed run.
"""
