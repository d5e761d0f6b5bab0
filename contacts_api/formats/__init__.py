"""Files in and out: vCards read and written, the birthday calendar as iCalendar.

Pure text work: no database, no HTTP. May import `core` and `models`. Never: `crud`,
`mail`, `api` or the app.
"""
