"""Load a raw folder into the warehouse (``load.load_raw_folder``), and where each rule is checked.

=====================================================  ====================================================
rule                                                   where it is checked
=====================================================  ====================================================
file named ``<entity>_YYYY-MM-DD.csv``; ``format.json``  ``contract.list_raw_files``, ``contract.RawFormat.read``
header: not empty, required columns, no duplicates     ``reader.read_header`` (the file is refused)
encoding, mojibake                                     ``reader._decode_to_utf8`` (the file is refused)
unbalanced quote, control character, line too long     ``reader._screen`` (the line is quarantined)
too many or too few fields                             ``reader.parse_blocks``
types, bounds, accepted values, UTC offsets            ``values.type_chunk`` (pyarrow)
day/month order that cannot be guessed                 ``values._type_timestamp`` (the file is refused)
DST gap or overlap, event date vs file and run dates,  ``events.check_events`` (pyarrow)
oldest event (``max_event_age_days``), known store /
product / customer, store's open dates
reference key once, known region                       ``sql/staging/<entity>.sql``
a ticket line or event once (load and warehouse)       the fact tables' primary keys, then
                                                       ``sql/staging/repeated_keys.sql``
reject rate (``max_reject_rate``)                      ``load._refuse_mostly_rejected`` (the file is refused)
rows read = loaded + rejected                          ``ledger.finish`` and the data tests
facts join their dimensions, flags, open dates, ledger  ``sql/tests/*.sql`` (``data_tests``), after each load
=====================================================  ====================================================
"""
