#!/usr/bin/python3
# Reads an XLSX file with openpyxl (a real spreadsheet reader, independent of
# excelize) and prints every sheet's cells as JSON: dates as ISO strings.
import datetime
import json
import sys

import openpyxl

wb = openpyxl.load_workbook(sys.argv[1])
out = {"sheets": wb.sheetnames, "active": wb.active.title, "data": {}}
for ws in wb.worksheets:
    rows = []
    for row in ws.iter_rows(values_only=True):
        cells = []
        for v in row:
            if isinstance(v, datetime.datetime):
                v = v.isoformat(sep=" ")
            cells.append(v)
        rows.append(cells)
    out["data"][ws.title] = rows
json.dump(out, sys.stdout)
