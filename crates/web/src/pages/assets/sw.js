// Gridwarden station service worker: keeps the station page and its assets so
// the page reloads without a network. API calls are never cached: the page's
// queue (IndexedDB) holds scans until the server has them.
'use strict';
const CACHE = 'gw-station-__VERSION__';
const SHELL = ['/station', '/assets/app.css?v=__VERSION__', '/assets/station.js?v=__VERSION__'];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('gw-station-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

function timeout(ms) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), ms));
}

self.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return;
  if (url.pathname === '/station') {
    // Network first (a fresh page when online), the kept copy when not.
    // A server or proxy answering with an error (502, 503 …) is no better
    // than no network: the kept copy, if there is one.
    let failed = null;
    e.respondWith(
      Promise.race([fetch(req), timeout(4000)])
        .then((res) => {
          if (!res.ok) {
            failed = res;
            throw new Error(String(res.status));
          }
          const copy = res.clone();
          caches.open(CACHE).then((c) => c.put('/station', copy));
          return res;
        })
        .catch(() => caches.match('/station').then((r) => r || failed || Response.error()))
    );
    return;
  }
  if (url.pathname.startsWith('/assets/')) {
    // Versioned URLs: the kept copy is the right one.
    e.respondWith(caches.match(req).then((r) => r || fetch(req)));
  }
});
