// The service worker (served at /sw.js): shows a push notification and opens its task when
// tapped. The payload is JSON from notifications/push.py: {title, body, url, tag}.
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function sameOrigin(url) {
  // Only this site's pages are opened, whatever a payload says.
  const target = new URL(url || "/volunteer/inbox/", self.location.origin);
  return target.origin === self.location.origin ? target.href : new URL("/", self.location.origin).href;
}

async function tellPages(message) {
  // Open pages hear that a notification was shown (the account page shows it, tests read it).
  const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const page of pages) page.postMessage(message);
}

self.addEventListener("push", (event) => {
  let data = {};
  if (event.data) {
    try {
      data = event.data.json();
    } catch (error) {
      data = { body: event.data.text() };
    }
  }
  const title = data.title || "Mutual aid";
  const url = sameOrigin(data.url);
  const options = { body: data.body || "", tag: data.tag || "", data: { url: url } };
  event.waitUntil(
    self.registration
      .showNotification(title, options)
      .then(() => tellPages({ type: "push-shown", title: title, body: options.body, url: url }))
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = sameOrigin(event.notification.data && event.notification.data.url);
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((pages) => {
      for (const page of pages) {
        if (page.url === url && "focus" in page) return page.focus();
      }
      return self.clients.openWindow(url);
    })
  );
});
