"""Against abuse of a line: rate limits (``limits``), blocked callers (``blocking``) and what
a refused call or SMS gets (``refusal``). Nobody's number is used for any of it: a caller is
the keyed hash of their number (hotline.privacy.caller_hash), in Redis keys and in the table.
"""
