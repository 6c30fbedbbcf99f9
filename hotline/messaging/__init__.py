"""SMS with volunteers: the texts, sending them once, reading replies, delivery and offers.

- ``texts``: every SMS a volunteer can get, in Dutch, French and English.
- ``replies``: what a volunteer's answer means (JA / NEE / KLAAR + code, STOP, ...).
- ``sending``: texts are rows (``sms_message``) sent by a job through the outbox.
- ``inbound``: a volunteer's SMS in, the answer out.
- ``delivery``: Twilio's delivery reports.
- ``offers``: offers that move on by themselves (expiry, next volunteer, check-ins).
- ``conversation``: what operators read: conversations, offer states, follow-ups.
"""
