// The crew page's service worker: keeps the page itself, so a phone without signal can open it again.
// Network first: a fresh page when there is signal, the kept one when there is none. The day and the
// queue of events live in the page's localStorage; nothing else is kept here.
"use strict";
const CACHE = "binroute-crew-v1";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.add("crew")).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || !url.pathname.endsWith("/crew")) return;
  event.respondWith(
    fetch(event.request)
      .then((resp) => {
        const copy = resp.clone();
        if (resp.ok) caches.open(CACHE).then((cache) => cache.put(url.pathname, copy));
        return resp;
      })
      .catch(() => caches.match(url.pathname)),
  );
});
