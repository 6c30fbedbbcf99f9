"""A worker that is told to stop stops in a moment, not after rq's minute of pubsub sleep."""

import time

from rq import Queue

from hotline.worker import HotlineWorker


def test_a_worker_leaves_its_command_channel_at_once_even_when_the_reply_is_quick(redis_conn):
    worker = HotlineWorker([Queue("default", connection=redis_conn)], connection=redis_conn)
    worker.subscribe()
    time.sleep(0.2)  # the reader thread is listening on the worker's channel
    send_unsubscribe = worker.pubsub.unsubscribe

    def unsubscribe_and_let_the_reply_arrive(*args):
        # On a busy machine the reader reads UNSUBSCRIBE's reply before the worker goes
        # on: in rq's order the reader, still told to run, then waited 60 s for a new
        # subscription, and redis-py's stop() waited for it.
        send_unsubscribe(*args)
        time.sleep(0.5)

    worker.pubsub.unsubscribe = unsubscribe_and_let_the_reply_arrive
    started = time.monotonic()
    worker.unsubscribe()
    assert time.monotonic() - started < 5
    assert not worker.pubsub_thread.is_alive()
