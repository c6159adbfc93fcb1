// A short bandwidth probe while the patient waits, with one verdict line.
// It stops as soon as the call begins, so it never competes with the call.

import { THRESHOLDS, formatMbps, measureDownload, measureUpload } from "./throughput.js";

export function startQuickCheck(line) {
  const stop = new AbortController();
  line.hidden = false;
  line.dataset.state = "running";
  line.textContent = "Wir prüfen kurz Ihre Internetverbindung …";

  const probe = async () => {
    const options = { seconds: 2, streams: 2, signal: stop.signal };
    const down = await measureDownload({ ...options, maxBytes: 10e6 });
    const up = await measureUpload({ ...options, maxBytes: 4e6 });
    line.dataset.state = verdictState(down.mbps, up.mbps);
    line.textContent = verdictLine(down, up);
  };
  probe().catch(() => {
    // A failed probe says nothing about the call: say nothing either.
    line.hidden = true;
  });

  return {
    stop() {
      if (line.dataset.state === "running") line.hidden = true;
      stop.abort();
    },
  };
}

function verdictState(down, up) {
  return down < THRESHOLDS.download.minimum || up < THRESHOLDS.upload.minimum ? "fail" : "ok";
}

function verdictLine(down, up) {
  const figures = `Ihre Verbindung: ${formatMbps(down.mbps)} Download, ${formatMbps(up.mbps)} Upload`;
  if (verdictState(down.mbps, up.mbps) === "fail") {
    return `${figures} – unter dem Minimum von ${THRESHOLDS.download.minimum} bzw. ` +
      `${THRESHOLDS.upload.minimum} Mbit/s. Bild und Ton können stocken: Beenden Sie andere ` +
      "Downloads und Streams oder gehen Sie näher an Ihren WLAN-Router.";
  }
  if (down.mbps >= THRESHOLDS.download.recommended && up.mbps >= THRESHOLDS.upload.recommended) {
    return `${figures} – Empfehlung erreicht.`;
  }
  return `${figures} – ausreichend für die Videosprechstunde.`;
}
