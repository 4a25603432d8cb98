// The web-first page: asks the server what became of the code until a
// phone has linked with it, then shows "Linked" without a reload. Without
// this script the page still works: a reload shows the same.
'use strict';
(function () {
  var box = document.getElementById('link-status');
  if (!box || box.dataset.state !== 'waiting' || !window.fetch) {
    return;
  }
  var url = box.dataset.poll;
  var states = ['waiting', 'linked', 'expired', 'replaced'];
  var delay = 2000;
  var stopAt = Date.now() + 20 * 60 * 1000;

  function show(state, last4) {
    if (state === 'linked') {
      document.getElementById('last4').textContent = last4 || '';
      var again = document.querySelector('.again');
      if (again) {
        again.hidden = true;
      }
    }
    states.forEach(function (s) {
      var el = document.getElementById(s);
      if (el) {
        el.hidden = s !== state;
      }
    });
    box.dataset.state = state;
  }

  function later() {
    if (Date.now() < stopAt) {
      setTimeout(poll, delay);
    }
  }

  function poll() {
    fetch(url, { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } })
      .then(function (res) {
        if (res.status === 429 || res.status >= 500) {
          delay = Math.min(delay * 2, 30000);
          return null;
        }
        return res.json();
      })
      .then(function (st) {
        if (st && states.indexOf(st.state) > 0) {
          show(st.state, st.last4);
          return;
        }
        later();
      })
      .catch(function () {
        delay = Math.min(delay * 2, 30000);
        later();
      });
  }
  later();
})();
