"""The pure domain: rules of the hotline with no Flask, SQL, scheduler or docx; `now` is always passed in."""
