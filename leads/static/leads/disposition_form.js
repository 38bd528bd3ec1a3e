// The lead page's "Work this lead" form (templates/admin/leads/lead/change_form.html): a field
// marked data-status="Funded" (the funding terms) or "Disqualified"/"Withdrawn" (their reasons)
// shows only while that status is chosen. A hidden field is disabled too, so that what was typed
// there is not sent. A field the server refused stays in sight until the status is changed, so its
// message is read. Without this script every field shows and the server says what goes where.
"use strict";
(function () {
    const form = document.getElementById("disposition-form");
    if (!form) {
        return;
    }
    const status = form.elements.namedItem("status");

    function update(event) {
        form.querySelectorAll("[data-status]").forEach(function (row) {
            const refused = !event && row.classList.contains("errors");
            const shown = refused || row.dataset.status === status.value;
            row.hidden = !shown;
            row.querySelectorAll("input, select, textarea").forEach(function (input) {
                input.disabled = !shown;
            });
        });
    }

    status.addEventListener("change", update);
    update();
})();
