// Ledgerly's dashboard script. Every page works without it; it adds drag and drop for receipts,
// uploading as soon as files are chosen or a photo taken, the live OCR status, a drawer that
// keeps the focus (and Escape to close it), the browser's time zone at sign-up, and the year's
// chart scrolled to its recent end on a phone.
"use strict";

(function () {
  // Drag and drop onto the upload form's zone; choosing a file uploads it at once.
  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    var zone = form.querySelector("[data-dropzone]");
    var input = form.querySelector("input[type=file]");
    var button = form.querySelector("[data-upload-button]");
    if (!zone || !input) return;
    function send(chosen) {
      if (!chosen.files || chosen.files.length === 0) return;
      if (button) {
        button.disabled = true;
        button.textContent = "Uploading…";
      }
      form.submit();
    }
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("over");
      });
    });
    ["dragleave", "dragend"].forEach(function (name) {
      zone.addEventListener(name, function () {
        zone.classList.remove("over");
      });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("over");
      if (event.dataTransfer && event.dataTransfer.files.length > 0) {
        input.files = event.dataTransfer.files;
        send(input);
      }
    });
    // The file chooser (one or several) and the phone's camera alike.
    form.querySelectorAll("input[type=file]").forEach(function (chosen) {
      chosen.addEventListener("change", function () {
        send(chosen);
      });
    });
  });

  // The live status of receipts being read: polls the API until OCR is done, then opens the
  // review (in the upload drawer) or shows the new state (on the receipts page).
  var labels = {
    pending: ["Waiting to be read", "pending"],
    processing: ["Reading…", "pending"],
    done: ["Read", "ok"],
    failed: ["Could not be read", "failed"]
  };
  document.querySelectorAll("[data-receipt][data-live]").forEach(function (element) {
    var id = element.getAttribute("data-receipt");
    var text = element.querySelector("[data-status-text]");
    var delay = 700;
    function poll() {
      fetch("/api/v1/receipts/" + encodeURIComponent(id), {
        credentials: "same-origin",
        headers: { Accept: "application/json" }
      })
        .then(function (response) {
          if (!response.ok) throw new Error("status " + response.status);
          return response.json();
        })
        .then(function (receipt) {
          var label = labels[receipt.status] || labels.failed;
          if (text) {
            text.textContent = label[0];
            text.className = "badge " + label[1];
          }
          if (receipt.status === "done" || receipt.status === "failed") {
            if (element.hasAttribute("data-review-when-done") && receipt.status === "done" && receipt.expense_id) {
              window.location.assign("/dashboard?review=" + encodeURIComponent(receipt.expense_id));
            } else {
              window.location.reload();
            }
            return;
          }
          delay = Math.min(delay * 1.3, 3000);
          window.setTimeout(poll, delay);
        })
        .catch(function () {
          delay = Math.min(delay * 2, 10000);
          window.setTimeout(poll, delay);
        });
    }
    window.setTimeout(poll, delay);
  });

  // On a narrow screen the year's chart scrolls sideways: start at its recent end.
  document.querySelectorAll(".chart-scroll").forEach(function (element) {
    element.scrollLeft = element.scrollWidth;
  });

  // An open drawer or dialog keeps the focus: it starts inside (on its autofocus field, else its
  // first control), Tab and Shift+Tab go round inside it, and Escape closes it (its close link's
  // address). Drawers open and close by address, so the link that opened one is remembered for
  // the page it closes to, which puts the focus back on it.
  var RETURN = "ledgerly-return-focus";
  var FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), " +
    "select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";
  var open = document.querySelector("[data-close]");
  var remember = function (href) {
    try {
      window.sessionStorage.setItem(RETURN, href);
    } catch (ignored) {
      // Storage refused (private mode): the focus starts at the top, as without a script.
    }
  };
  if (open) {
    var inside = function () {
      return Array.prototype.filter.call(open.querySelectorAll(FOCUSABLE), function (element) {
        return element.offsetParent !== null || element === document.activeElement;
      });
    };
    if (!open.contains(document.activeElement)) {
      var first = open.querySelector("[autofocus]") || inside()[0];
      if (first) {
        first.focus();
      }
    }
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        window.location.assign(open.getAttribute("data-close"));
        return;
      }
      if (event.key !== "Tab") {
        return;
      }
      var controls = inside();
      if (controls.length === 0) {
        event.preventDefault();
        return;
      }
      var head = controls[0];
      var tail = controls[controls.length - 1];
      var at = document.activeElement;
      if (event.shiftKey && (at === head || !open.contains(at))) {
        event.preventDefault();
        tail.focus();
      } else if (!event.shiftKey && (at === tail || !open.contains(at))) {
        event.preventDefault();
        head.focus();
      }
    });
  } else {
    var back = null;
    try {
      back = window.sessionStorage.getItem(RETURN);
      window.sessionStorage.removeItem(RETURN);
    } catch (ignored) {
      back = null;
    }
    if (back) {
      var opener = Array.prototype.find.call(document.querySelectorAll("a[href]"), function (a) {
        return a.getAttribute("href") === back;
      });
      if (opener) {
        opener.focus();
      }
    }
  }
  // A link that opens a drawer or dialog over this page is where the focus returns.
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href]") : null;
    if (link && !open && /[?&](add|edit|review|delete|receipt)=/.test(link.getAttribute("href"))) {
      remember(link.getAttribute("href"));
    }
  });

  // The service worker shows the offline page when a page cannot be reached (and makes the
  // dashboard installable as an app).
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(function () {
      // Not over HTTPS or refused: pages work as they do without it.
    });
  }

  // Sign-up: suggest the browser's own time zone.
  var zone = document.getElementById("signup-timezone");
  if (zone && !zone.value && window.Intl && Intl.DateTimeFormat) {
    try {
      zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (ignored) {
      // Older browsers: the field stays empty, which means UTC.
    }
  }
})();
