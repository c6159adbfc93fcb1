// Camera and microphone: permission, self-view, device choice, mute.

export function deviceErrorText(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Sie haben den Zugriff auf Kamera oder Mikrofon nicht erlaubt. " +
        "Bitte geben Sie beides in Ihrem Browser frei und versuchen Sie es erneut.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "Wir haben keine Kamera oder kein Mikrofon gefunden. Bitte schließen " +
        "Sie ein Gerät an (z. B. ein Headset) oder nutzen Sie ein anderes Gerät.";
    case "NotReadableError":
    case "AbortError":
      return "Kamera oder Mikrofon werden gerade von einem anderen Programm " +
        "genutzt. Bitte schließen Sie andere Videoprogramme und versuchen Sie es erneut.";
    default:
      return "Kamera und Mikrofon konnten nicht gestartet werden. Bitte nutzen Sie " +
        "einen aktuellen Browser (Chrome, Firefox oder Safari).";
  }
}

export function mediaDevicesSupported() {
  return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

export class LocalMedia {
  constructor({ videoElement, cameraSelect, microphoneSelect }) {
    this.videoElement = videoElement;
    this.cameraSelect = cameraSelect;
    this.microphoneSelect = microphoneSelect;
    this.stream = new MediaStream();
    this.onTrackReplaced = () => {};
    this.audioEnabled = true;
    this.videoEnabled = true;
    cameraSelect?.addEventListener("change", () => this.switchTo("video", cameraSelect.value));
    microphoneSelect?.addEventListener("change", () => this.switchTo("audio", microphoneSelect.value));
  }

  async start() {
    if (!mediaDevicesSupported()) {
      throw Object.assign(new Error("unsupported"), { name: "NotSupportedError" });
    }
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true },
      video: { width: { ideal: 1280 }, height: { ideal: 720 }, facingMode: "user" },
    });
    this.stream = stream;
    this.videoElement.srcObject = stream;
    await this.fillDeviceLists();
    return stream;
  }

  track(kind) {
    return this.stream.getTracks().find((track) => track.kind === kind) || null;
  }

  async fillDeviceLists() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const fill = (select, kind, current) => {
      if (!select) return;
      select.replaceChildren();
      devices.filter((device) => device.kind === kind).forEach((device, index) => {
        const option = document.createElement("option");
        option.value = device.deviceId;
        option.textContent = device.label || `${kind === "videoinput" ? "Kamera" : "Mikrofon"} ${index + 1}`;
        option.selected = current && device.deviceId === current;
        select.append(option);
      });
    };
    fill(this.cameraSelect, "videoinput", this.track("video")?.getSettings().deviceId);
    fill(this.microphoneSelect, "audioinput", this.track("audio")?.getSettings().deviceId);
  }

  async switchTo(kind, deviceId) {
    const constraints = kind === "video"
      ? { video: { deviceId: { exact: deviceId } } }
      : { audio: { deviceId: { exact: deviceId }, echoCancellation: true } };
    const fresh = await navigator.mediaDevices.getUserMedia(constraints);
    const track = fresh.getTracks()[0];
    const old = this.track(kind);
    if (old) {
      this.stream.removeTrack(old);
      old.stop();
    }
    track.enabled = kind === "video" ? this.videoEnabled : this.audioEnabled;
    this.stream.addTrack(track);
    this.videoElement.srcObject = this.stream;
    this.onTrackReplaced(kind, track);
  }

  setEnabled(kind, enabled) {
    if (kind === "video") this.videoEnabled = enabled;
    else this.audioEnabled = enabled;
    const track = this.track(kind);
    if (track) track.enabled = enabled;
  }

  stop() {
    this.stream.getTracks().forEach((track) => track.stop());
  }
}
