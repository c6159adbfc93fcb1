// Which browser this is, and whether it has what a video call needs.

// The oldest versions the call has been built for.
const SUPPORTED_FROM = { Chrome: 100, Edge: 100, Firefox: 100, Safari: 15 };

export function describeBrowser(userAgent = navigator.userAgent) {
  const ipadAsMac = /Macintosh/.test(userAgent) && navigator.maxTouchPoints > 1;
  const platform =
    /Android/.test(userAgent) ? "Android"
      : /iPhone|iPad|iPod/.test(userAgent) || ipadAsMac ? "iOS"
        : /Windows/.test(userAgent) ? "Windows"
          : /CrOS/.test(userAgent) ? "ChromeOS"
            : /Mac OS X|Macintosh/.test(userAgent) ? "macOS"
              : /Linux/.test(userAgent) ? "Linux" : "unbekanntes System";
  const mobile = platform === "Android" || platform === "iOS" || /Mobile/.test(userAgent);
  const found = [
    ["Edge", /Edg(?:e|A|iOS)?\/(\d+)/],
    ["Opera", /OPR\/(\d+)/],
    ["Samsung Internet", /SamsungBrowser\/(\d+)/],
    ["Firefox", /(?:Firefox|FxiOS)\/(\d+)/],
    ["Chrome", /(?:HeadlessChrome|Chrome|Chromium|CriOS)\/(\d+)/],
    ["Safari", /Version\/(\d+).*Safari/],
  ].find(([, pattern]) => pattern.test(userAgent));
  const [name, version] = found
    ? [found[0], Number(found[1].exec(userAgent)[1])]
    : ["unbekannter Browser", 0];
  // On iPhone and iPad every browser runs on Safari's engine: its version counts.
  const ios = /OS (\d+)_\d/.exec(userAgent);
  const engineVersion = platform === "iOS" && ios ? Number(ios[1]) : version;
  return { name, version, engineVersion, platform, mobile };
}

export function missingFeatures() {
  const missing = [];
  if (!window.isSecureContext) missing.push("sichere Verbindung (https)");
  if (!navigator.mediaDevices?.getUserMedia) missing.push("Kamera- und Mikrofonzugriff");
  if (!("RTCPeerConnection" in window)) missing.push("WebRTC");
  if (!("WebSocket" in window)) missing.push("WebSocket");
  if (!("AudioContext" in window || "webkitAudioContext" in window)) missing.push("Web Audio");
  if (!("ReadableStream" in window)) missing.push("Datenströme (Streams)");
  return missing;
}

export function browserVerdict(browser = describeBrowser(), missing = missingFeatures()) {
  const kind = browser.mobile ? "Mobilgerät" : "Computer";
  const described = `${browser.name}${browser.version ? ` ${browser.version}` : ""} auf ${browser.platform} (${kind})`;
  if (missing.length) {
    return {
      state: "fail",
      result: `${described}: Es fehlt ${missing.join(", ")}.`,
      hint: "Bitte öffnen Sie diese Seite in einem aktuellen Chrome, Firefox oder Safari " +
        "und über die https-Adresse aus Ihrer Einladung.",
      summary: `Browser: ${described} – es fehlt ${missing.join(", ")}`,
    };
  }
  const minimum = SUPPORTED_FROM[browser.platform === "iOS" ? "Safari" : browser.name];
  if (minimum === undefined) {
    return {
      state: "warn",
      result: `${described}: alle nötigen Funktionen vorhanden, aber nicht von uns getestet.`,
      hint: "Falls es im Termin hakt, nutzen Sie bitte Chrome, Firefox oder Safari.",
      summary: `Browser: ${described} – Funktionen vorhanden, nicht getestet`,
    };
  }
  if (browser.engineVersion < minimum) {
    return {
      state: "warn",
      result: `${described}: veraltet.`,
      hint: "Bitte aktualisieren Sie Ihren Browser (bzw. auf iPhone und iPad das Betriebssystem).",
      summary: `Browser: ${described} – veraltet`,
    };
  }
  return {
    state: "ok",
    result: `${described}: unterstützt alles, was die Videosprechstunde braucht.`,
    hint: "",
    summary: `Browser: ${described} – unterstützt`,
  };
}
