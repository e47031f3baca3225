"""Raw files to the validated warehouse: stream, COPY into staging, check in SQL, merge."""
