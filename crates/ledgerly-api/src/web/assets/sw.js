// Ledgerly's service worker: a page that cannot be reached (no connection, the server down)
// shows the offline page instead of the browser's error. Nothing else is cached: every page and
// every figure comes fresh from the server.
"use strict";

var CACHE = "ledgerly-offline-v1";
var KEPT = ["/offline", "/static/app.css", "/static/app.js"];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      return cache.addAll(KEPT);
    }).then(function () {
      return self.skipWaiting();
    })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name !== CACHE;
      }).map(function (name) {
        return caches.delete(name);
      }));
    }).then(function () {
      return self.clients.claim();
    })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") {
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request).catch(function () {
        return caches.match("/offline");
      })
    );
    return;
  }
  var path = new URL(request.url).pathname;
  if (KEPT.indexOf(path) !== -1) {
    event.respondWith(
      fetch(request).catch(function () {
        return caches.match(path);
      })
    );
  }
});
