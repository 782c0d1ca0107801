/**
 * The overview's only script (inline, with the CSP nonce). Without it the page still works: it is
 * fully rendered by the server and every action is a plain POST form. With it, the panels refresh
 * every 5 s from `/api/overview` and actions run without leaving the page.
 */
export const SCRIPT = `
(function () {
  'use strict';
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
  var days = document.body.getAttribute('data-days') || '7';
  var notice = document.getElementById('notice');
  var busy = false;

  function say(text, bad) {
    notice.textContent = text;
    notice.hidden = !text;
    notice.className = bad ? 'notice banner-bad' : 'notice';
  }

  function refresh() {
    if (busy) return Promise.resolve();
    busy = true;
    return fetch('/api/overview?fragments=1&days=' + encodeURIComponent(days), {
      headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store'
    }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then(function (data) {
      Object.keys(data.fragments).forEach(function (id) {
        var el = document.getElementById('frag-' + id);
        if (el) el.innerHTML = data.fragments[id];
      });
      document.body.classList.remove('stale-data');
    }).catch(function (err) {
      document.body.classList.add('stale-data');
      var u = document.querySelector('.updated');
      if (u) u.textContent = 'refresh failed (' + err.message + ') — showing older data';
    }).then(function () { busy = false; });
  }

  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    if (!form.hasAttribute || !form.hasAttribute('data-action')) return;
    ev.preventDefault();
    var question = form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) return;
    var button = form.querySelector('button');
    if (button) button.disabled = true;
    fetch(form.getAttribute('action'), {
      method: 'POST', credentials: 'same-origin',
      headers: { accept: 'application/json', 'x-csrf-token': token }
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        say(body.message || body.error || ('HTTP ' + r.status), !r.ok);
      });
    }).catch(function (err) { say('Request failed: ' + err.message, true); })
      .then(function () { return refresh(); });
  });

  setInterval(refresh, 5000);
})();
`;
