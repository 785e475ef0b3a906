"""Compliance: who may be contacted, when, and the proof afterwards.

- :mod:`.check`: the one function every channel calls before contacting anyone
  (``may_contact``), and its pure core (``decide``) with the account-status table.
- :mod:`.window`: allowed hours and days as intervals of real time in a local zone
  (daylight-saving changes included).
- :mod:`.optout`: opt-outs by contact and by number, undo, the list; all audited.
- :mod:`.dnc`: do-not-contact list files, parsed as a stream and matched.
- :mod:`.phones`: numbers to E.164 in the organization's country.
- :mod:`.report`: interactions of a period, inside or outside the allowed hours.
- :mod:`.audit_log`: reading an organization's audit log.
"""
