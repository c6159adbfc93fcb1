// Download and upload throughput against the server, in Mbit/s, and what
// they mean for a video consultation.

export const THRESHOLDS = {
  download: { minimum: 4, recommended: 20, name: "Download" },
  upload: { minimum: 2, recommended: 5, name: "Upload" },
};

const MIN_REQUEST_BYTES = 64 * 1024;
const MAX_UPLOAD_REQUEST_BYTES = 8 * 1024 * 1024;
const DEFAULT_SERVER_CAP = 25_000_000;

const whole = new Intl.NumberFormat("de-DE", { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat("de-DE", { minimumFractionDigits: 1, maximumFractionDigits: 1 });

export function formatMbps(mbps) {
  return `${(mbps >= 10 ? whole : oneDecimal).format(mbps)} Mbit/s`;
}

export class ThroughputRefused extends Error {
  constructor(message, status) {
    super(message);
    this.name = "ThroughputRefused";
    this.status = status;
  }
}

export async function refusalOf(response) {
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") return new ThroughputRefused(body.error, response.status);
  } catch {
    // Not our JSON (a proxy's error page, say): fall through to the status.
  }
  return new ThroughputRefused(`Der Server antwortete mit Status ${response.status}.`, response.status);
}

// Downloads for `seconds` on `streams` parallel requests; bytes count as they
// arrive, so a slow line still gives a figure when time is up.
export function measureDownload({ seconds = 4, streams = 4, maxBytes = 30e6, serverCap = DEFAULT_SERVER_CAP, signal } = {}) {
  return measure({
    seconds, streams, maxBytes, signal,
    graceSeconds: 0,
    firstBytes: 256 * 1024,
    largestBytes: serverCap,
    async transfer(size, abort, count) {
      const response = await fetch(`/technikcheck/download?bytes=${size}`, { cache: "no-store", signal: abort });
      if (!response.ok) throw await refusalOf(response);
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        count(value.byteLength);
      }
    },
  });
}

// Uploads for `seconds`; only bytes the server confirmed count, so bytes
// still sitting in a send buffer never flatter a slow line.
export function measureUpload({ seconds = 4, streams = 2, maxBytes = 12e6, serverCap = DEFAULT_SERVER_CAP, signal } = {}) {
  const block = new Uint8Array(MIN_REQUEST_BYTES);
  crypto.getRandomValues(block);
  return measure({
    seconds, streams, maxBytes, signal,
    graceSeconds: seconds / 2,
    firstBytes: MIN_REQUEST_BYTES,
    largestBytes: Math.min(serverCap, MAX_UPLOAD_REQUEST_BYTES),
    async transfer(size, abort, count) {
      const parts = Array.from({ length: Math.ceil(size / block.length) }, () => block);
      const body = new Blob(parts).slice(0, size);
      const response = await fetch("/technikcheck/upload", {
        method: "POST", body, signal: abort, cache: "no-store",
        headers: { "Content-Type": "application/octet-stream" },
      });
      if (!response.ok) throw await refusalOf(response);
      count(size);
    },
  });
}

async function measure({ seconds, streams, maxBytes, signal, graceSeconds, firstBytes, largestBytes, transfer }) {
  const stop = new AbortController();
  signal?.addEventListener("abort", () => stop.abort());
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let bytes = 0;
  let lastCounted = started;
  let capped = false;
  let refusal = null;
  let failure = null;
  const count = (amount) => {
    bytes += amount;
    lastCounted = performance.now();
    if (bytes >= maxBytes && !capped) {
      capped = true;
      stop.abort();
    }
  };
  const timer = setTimeout(() => stop.abort(), (seconds + graceSeconds) * 1000);

  const worker = async () => {
    let size = firstBytes;
    while (!stop.signal.aborted && performance.now() < deadline) {
      const begun = performance.now();
      try {
        await transfer(size, stop.signal, count);
      } catch (error) {
        if (error instanceof ThroughputRefused) {
          refusal ??= error;
          stop.abort();
        } else if (error.name !== "AbortError") {
          failure ??= error;
        }
        return;
      }
      // Aim at about one second per request at the pace seen so far, and
      // never far past the data this measurement may use.
      const took = Math.max((performance.now() - begun) / 1000, 0.01);
      const share = (maxBytes - bytes) / streams;
      size = Math.round(Math.max(MIN_REQUEST_BYTES, Math.min(largestBytes, share, size / took)));
    }
  };
  await Promise.all(Array.from({ length: streams }, worker));
  clearTimeout(timer);
  if (signal?.aborted) throw new DOMException("Messung abgebrochen", "AbortError");
  if (bytes === 0 && (refusal || failure)) throw refusal || failure;

  // Downloads count continuously: the clock runs until time was up. Uploads
  // count per finished request: the clock stops at the last one.
  const end = graceSeconds === 0 && !capped ? Math.min(performance.now(), deadline) : lastCounted;
  const elapsed = Math.max((end - started) / 1000, 0.001);
  return { mbps: (bytes * 8) / elapsed / 1e6, bytes, seconds: elapsed, capped, refusal };
}

// A verdict against the minimum and the recommendation.
export function bandwidthVerdict(direction, measurement) {
  const { minimum, recommended, name } = THRESHOLDS[direction];
  const figure = measurement.capped ? `mindestens ${formatMbps(measurement.mbps)}` : formatMbps(measurement.mbps);
  if (measurement.mbps < minimum) {
    return {
      state: "fail",
      label: "unter dem Minimum",
      result: `${name}: ${figure} – unter dem Minimum von ${minimum} Mbit/s.`,
      hint: "Das reicht für eine Videosprechstunde nicht sicher. Beenden Sie andere Downloads, " +
        "Streams und Videoanrufe, gehen Sie näher an Ihren WLAN-Router oder nutzen Sie ein " +
        "Netzwerkkabel oder eine andere Verbindung (z. B. Mobilfunk mit gutem Empfang).",
      summary: `${name}: ${figure} – unter dem Minimum (Minimum ${minimum}, empfohlen ${recommended} Mbit/s)`,
    };
  }
  if (measurement.mbps < recommended) {
    return {
      state: "ok",
      label: "ausreichend",
      result: `${name}: ${figure} – ausreichend (Minimum ${minimum}, empfohlen ${recommended} Mbit/s).`,
      hint: "Das reicht für die Videosprechstunde. Pausieren Sie während des Termins andere " +
        "Downloads und Streams, damit das Bild scharf bleibt.",
      summary: `${name}: ${figure} – ausreichend (Minimum ${minimum}, empfohlen ${recommended} Mbit/s)`,
    };
  }
  return {
    state: "ok",
    label: "empfohlen erreicht",
    result: `${name}: ${figure} – Empfehlung von ${recommended} Mbit/s erreicht.`,
    hint: "",
    summary: `${name}: ${figure} – empfohlen erreicht (Minimum ${minimum}, empfohlen ${recommended} Mbit/s)`,
  };
}

export function measurementFailed(direction, error) {
  const { name } = THRESHOLDS[direction];
  const reason = error instanceof ThroughputRefused
    ? error.message
    : "Der Server war nicht erreichbar.";
  return {
    state: "fail",
    label: "nicht gemessen",
    result: `${name}: nicht gemessen. ${reason}`,
    hint: "Prüfen Sie, ob Sie mit dem Internet verbunden sind, und versuchen Sie es gleich noch einmal.",
    summary: `${name}: nicht gemessen (${reason})`,
  };
}
