// The signaling socket: JSON messages to and from the server.

const FINAL_CLOSE_CODES = new Set([4001, 4002, 4400, 4403, 4404, 4410, 4429]);

export function connectSignaling(path, { onMessage, onOpen, onFinalClose }) {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
  let socket = null;
  let keepAlive = null;
  let stopped = false;

  const open = () => {
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      keepAlive = setInterval(() => send({ type: "ping" }), 20000);
      onOpen?.();
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      clearInterval(keepAlive);
      if (stopped) return;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        stopped = true;
        onFinalClose?.(event.code, event.reason);
        return;
      }
      // A dropped network: try again, the server lets us back in.
      setTimeout(open, 2000);
    });
  };

  const send = (message) => {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
    }
  };

  open();
  return {
    send,
    close() {
      stopped = true;
      socket?.close(1000, "bye");
    },
  };
}
