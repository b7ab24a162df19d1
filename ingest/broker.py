"""The demo's embedded MQTT broker: mqttools' asyncio broker, in-process, on 127.0.0.1.

Chosen for the demo only (README, "Connect your sensors"): a pure-Python PyPI package that
shares the project's environment (amqtt pins websockets 15, the dashboard needs 17). It speaks
MQTT 5 with QoS 0 and keeps nothing across a restart, like the embedded Kafka broker; the
bridge's no-loss path (QoS 1, persistent sessions) runs on Mosquitto in tests and production.
"""

from __future__ import annotations

import asyncio
import logging


async def run_broker(host: str, port: int, stop: asyncio.Event,
                     started: object = None) -> None:
    """Serve MQTT on ``host:port`` until ``stop`` is set."""
    import mqttools

    logging.getLogger("mqttools").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()

    def quiet(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        if not isinstance(context.get("exception"), asyncio.CancelledError):
            loop.default_exception_handler(context)  # a client's task cancelled at stop: no news

    loop.set_exception_handler(quiet)
    broker = mqttools.Broker((host, port))
    task = asyncio.create_task(broker.serve_forever())
    await asyncio.sleep(0)
    if callable(started):
        started()
    await stop.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
