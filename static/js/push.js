// My account: turn browser notifications on or off (the section [data-push]). Registers the
// service worker at /sw.js, subscribes with the service's VAPID key and saves the
// subscription; <html data-push> says where it stands ("on", "off", "blocked", "failed").
"use strict";

(function () {
  const section = document.querySelector("[data-push]");
  if (!section || !("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    return; // the section stays hidden: this browser cannot do push
  }
  section.hidden = false;
  const status = section.querySelector("[data-push-status]");
  const onButton = section.querySelector("[data-push-on]");
  const offButton = section.querySelector("[data-push-off]");
  const csrfToken = section.querySelector("[name=csrfmiddlewaretoken]").value;

  function show(state, extra) {
    document.documentElement.dataset.push = state;
    const text = section.dataset["text" + state.charAt(0).toUpperCase() + state.slice(1)];
    status.textContent = extra ? text + " " + extra : text;
    onButton.hidden = state === "on";
    offButton.hidden = state !== "on";
  }

  function applicationServerKey(base64url) {
    const base64 = (base64url + "=".repeat((4 - (base64url.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(base64), (character) => character.charCodeAt(0));
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      let reason = response.statusText;
      try {
        reason = (await response.json()).error || reason;
      } catch (error) {
        // not JSON: keep the status text
      }
      throw new Error(reason);
    }
    return response.json();
  }

  async function registration() {
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    return navigator.serviceWorker.ready;
  }

  async function turnOn() {
    onButton.disabled = true;
    try {
      const permission = await Notification.requestPermission();
      if (permission !== "granted") {
        show("blocked");
        return;
      }
      const worker = await registration();
      const subscription = await worker.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: applicationServerKey(section.dataset.publicKey),
      });
      await post(section.dataset.subscribeUrl, subscription.toJSON());
      show("on");
    } catch (error) {
      show("failed", error.message);
    } finally {
      onButton.disabled = false;
    }
  }

  async function turnOff() {
    offButton.disabled = true;
    try {
      const worker = await registration();
      const subscription = await worker.pushManager.getSubscription();
      if (subscription) {
        await post(section.dataset.unsubscribeUrl, { endpoint: subscription.endpoint });
        await subscription.unsubscribe();
      }
      show("off");
    } catch (error) {
      show("failed", error.message);
    } finally {
      offButton.disabled = false;
    }
  }

  onButton.addEventListener("click", turnOn);
  offButton.addEventListener("click", turnOff);
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data && event.data.type === "push-shown") {
      document.documentElement.dataset.pushShown = event.data.title;
    }
  });

  (async function () {
    const existing = await navigator.serviceWorker.getRegistration("/");
    const subscription = existing && (await existing.pushManager.getSubscription());
    show(subscription && Notification.permission === "granted" ? "on" : "off");
  })();
})();
