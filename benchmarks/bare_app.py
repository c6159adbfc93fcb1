"""The baseline server: a bare Starlette app served like `sprechzimmer serve`.

Run as `python -m benchmarks.bare_app --port N --ws-max-size BYTES`. Uvicorn
gets the settings the product's command line gives it, so only the application
differs. The product's modules are not imported here (the caller passes the
WebSocket size limit), so that the baseline's memory is Starlette's alone.
"""

import argparse
import logging

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

PAGE = """<!doctype html>
<html lang="de">
<head><meta charset="utf-8"><title>Willkommen</title></head>
<body>
<h1>Willkommen zu Ihrer Videosprechstunde</h1>
<p>Dr. Anna Weber, Praxis am Markt</p>
<form method="post" action="/weiter"><button type="submit">Weiter</button></form>
</body>
</html>
"""


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def waiting_room(websocket: WebSocket) -> None:
    """Accepts, says 'waiting' and holds the connection, like a patient's."""
    await websocket.accept()
    await websocket.send_text('{"type":"waiting"}')
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
    except WebSocketDisconnect:
        pass


app = Starlette(
    routes=[
        Route("/page", page, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
        WebSocketRoute("/ws", waiting_room),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ws-max-size", type=int, required=True)
    arguments = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Mirrors the uvicorn.run() call in adapters/cli/main.py.
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=arguments.port,
        ws_max_size=arguments.ws_max_size,
        log_level="info",
        server_header=False,
        proxy_headers=False,
        access_log=False,
    )


if __name__ == "__main__":
    main()
