// The agent's referral form: the department chosen as lead (主办) cannot also be ticked as assisting (协办).
(function () {
  "use strict";
  function sync(select) {
    var form = select.form;
    form.querySelectorAll('input[name="assist_ids"]').forEach(function (box) {
      var lead = box.value === select.value;
      if (lead) { box.checked = false; }
      box.disabled = lead;
      box.closest("label").classList.toggle("muted", lead);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.refer select[name=department_id]").forEach(function (select) {
      select.addEventListener("change", function () { sync(select); });
      sync(select);
    });
  });
})();
