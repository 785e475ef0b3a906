"""The portfolio: debtors' accounts loaded from files and from API syncs.

Theory of operation. An import is a pipeline of small steps, one module each, and
only the last one touches the database:

    file --(sources: csv_source, sheet_source)--> rows, each with its row number
         --(table)--> the header row found, data rows below it
         --(mapping, synonyms)--> which column feeds which field, with a confidence
         --(records: amounts, dates, normalize, documents)--> one AccountRecord,
                                                   or the reasons the row is refused
         --(writer, ordered_ids)--> batched upsert on (org_id, external_id)
         --(report)--> inserted / updated / unchanged, refused rows, warnings

Rows stream through in batches, so memory does not grow with the file; a refused
row is reported and skipped, never fatal. The reading and checking runs off the
event loop, in a worker thread for small files and in a reader process
(:mod:`.reading`, :mod:`.reader_child`) for large ones. :mod:`.service` wires the
steps together and owns the transactions (one per batch).

:mod:`.normalize` (phones, emails, languages, zones, currencies) and
:mod:`.documents` (last four + keyed digest) are meant for the rest of the
backoffice too.
"""
