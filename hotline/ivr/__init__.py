"""The IVR engine: telephone menus stored as TOML data, interpreted step by step.

Pure Python: no HTTP, telephony or database. The web layer turns a Turn's
actions into TwiML and stores Turn.state between webhooks.
"""

from .engine import (
    handle_input,
    operator_fallback,
    resume,
    run_effects,
    start_call,
    wait_turn,
)
from .graph import flow_to_svg
from .loader import FlowError, load_flow, load_flows
from .schema import Flow
from .simulate import simulate
from .turns import (
    CallContext,
    Dial,
    Effect,
    Gather,
    Hangup,
    Pause,
    ReadNumber,
    Record,
    Say,
    Turn,
)

__all__ = [
    "CallContext",
    "Dial",
    "Effect",
    "Flow",
    "FlowError",
    "Gather",
    "Hangup",
    "Pause",
    "ReadNumber",
    "Record",
    "Say",
    "Turn",
    "flow_to_svg",
    "handle_input",
    "load_flow",
    "load_flows",
    "operator_fallback",
    "resume",
    "run_effects",
    "simulate",
    "start_call",
    "wait_turn",
]
