// The variables table of the message template editor shows the rows of the context type
// chosen in the form (and the rows every type offers), following the field as it changes.
(function () {
  'use strict';

  function follow(table) {
    var form = table.closest('form') || document;
    var select = form.querySelector('[name="context_type"]');
    if (!select) {
      return;
    }
    function show() {
      table.querySelectorAll('tr[data-context-type]').forEach(function (row) {
        var type = row.getAttribute('data-context-type');
        row.hidden = type !== '' && type !== select.value;
      });
    }
    select.addEventListener('change', show);
    show();
  }

  function start() {
    document.querySelectorAll('[data-messaging-variables]').forEach(follow);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
