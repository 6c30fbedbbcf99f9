"""Voice: phone calls through the line (the IVR's glue, operators answering, masked calls).

``calls`` moves a call through its IVR flow; ``callbacks`` rings an operator and then a
resident; ``live_calls`` turns a call an operator answered into a request; ``connections``
puts a volunteer and a resident through to each other without showing either number;
``operator_queue`` keeps a caller company in the line's queue while the operators'
phones ring, and puts the first operator who answers through.
"""
