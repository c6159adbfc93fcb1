// The patient's steps before and after a call, the same for a consultation and
// a group appointment: devices, the waiting room's quick check, the end.

import { deviceErrorText } from "./devices.js";
import { startQuickCheck } from "./quick-check.js";

const LEFT_TITLE = "Sie haben das Gespräch verlassen";
const LEFT_TEXT = "Solange der Termin läuft, können Sie über den Link aus Ihrer E-Mail wieder beitreten.";

export class PatientSteps {
  // `enter` connects to the room; `leave` closes the call, media and socket.
  constructor({ localMedia, enter, leave }) {
    this.localMedia = localMedia;
    this.enter = enter;
    this.leave = leave;
    this.quickCheck = null;
    this.setupStep = document.getElementById("setup-step");
    this.waitingStep = document.getElementById("waiting-step");
    this.callSection = document.getElementById("call");
    this.enterActions = document.getElementById("enter-actions");
    this.problem = document.getElementById("device-problem");
    this.callSection.hidden = true;
  }

  wireButtons() {
    const requestButton = document.getElementById("request-devices");
    requestButton.addEventListener("click", () => this.requestDevices());
    // The button works only once this script runs; until then it stays disabled.
    requestButton.disabled = false;
    document.getElementById("retry-devices").addEventListener("click", () => this.requestDevices());
    document.getElementById("continue-without-devices").addEventListener("click", () => {
      this.problem.hidden = true;
      this.enterWaitingRoom();
    });
    document.getElementById("enter-waiting-room").addEventListener("click", () => this.enterWaitingRoom());
    document.getElementById("hang-up").addEventListener("click", () => this.end(LEFT_TITLE, LEFT_TEXT));
  }

  async requestDevices() {
    this.problem.hidden = true;
    try {
      await this.localMedia.start();
    } catch (error) {
      document.getElementById("device-problem-text").textContent = deviceErrorText(error);
      this.problem.hidden = false;
      return;
    }
    this.callSection.hidden = false;
    this.enterActions.hidden = false;
    this.setupStep.querySelector("#request-devices").hidden = true;
    this.setupStep.querySelector("h1").textContent = "So sehen andere Sie";
    this.setupStep.querySelector("h1 ~ p:not(.lead)").textContent =
      "Kamera und Mikrofon sind bereit. Wenn alles passt, gehen Sie ins Wartezimmer.";
  }

  enterWaitingRoom() {
    this.enterActions.hidden = true;
    this.setupStep.hidden = true;
    this.waitingStep.hidden = false;
    this.callSection.hidden = false;
    this.quickCheck = startQuickCheck(document.getElementById("quick-check"));
    this.enter();
  }

  stopQuickCheck() {
    this.quickCheck?.stop();
  }

  end(title, text) {
    this.stopQuickCheck();
    this.leave();
    this.localMedia.stop();
    this.callSection.hidden = true;
    this.waitingStep.hidden = true;
    this.setupStep.hidden = true;
    document.getElementById("ended-title").textContent = title;
    document.getElementById("ended-text").textContent = text;
    document.getElementById("ended-step").hidden = false;
  }
}
