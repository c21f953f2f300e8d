/* For phones on a weak mountain network (plain ES5 + Promise/canvas, as in Android WebViews of recent years):
   1. photos chosen in a form with data-downscale are shrunk in the browser (longest side 1600 px, JPEG)
      before upload, so a 5 MB camera photo travels as a few hundred KB;
   2. a submit that fails because the signal dropped says so in plain Chinese and offers to retry; the
      form keeps its text (draft.js) and its idempotency key, so a retry never saves twice.
   Without JavaScript the forms still post normally. */
(function () {
  var MAX_SIDE = 1600, QUALITY = 0.8;

  function shrink(file) {
    return new Promise(function (resolve) {
      if (!/^image\/(jpeg|png|webp)$/.test(file.type) || !window.URL || !document.createElement("canvas").toBlob) {
        resolve(file); return;
      }
      var img = new Image(), url = URL.createObjectURL(file);
      img.onload = function () {
        var w = img.naturalWidth, h = img.naturalHeight, scale = Math.min(1, MAX_SIDE / Math.max(w, h));
        if (scale === 1 && file.size < 600 * 1024) { URL.revokeObjectURL(url); resolve(file); return; }
        var c = document.createElement("canvas");
        c.width = Math.round(w * scale); c.height = Math.round(h * scale);
        c.getContext("2d").drawImage(img, 0, 0, c.width, c.height);
        c.toBlob(function (blob) {
          URL.revokeObjectURL(url);
          if (!blob || blob.size >= file.size) { resolve(file); return; }
          var name = file.name.replace(/\.[^.]*$/, "") + ".jpg";
          try { resolve(new File([blob], name, { type: "image/jpeg" })); } catch (e) { resolve(file); }
        }, "image/jpeg", QUALITY);
      };
      img.onerror = function () { URL.revokeObjectURL(url); resolve(file); };
      img.src = url;
    });
  }

  function shrinkInput(input) {
    if (!input.files || !input.files.length || typeof DataTransfer === "undefined") return Promise.resolve();
    var files = Array.prototype.slice.call(input.files);
    return Promise.all(files.map(shrink)).then(function (out) {
      var dt = new DataTransfer();
      out.forEach(function (f) { dt.items.add(f); });
      input.files = dt.files;
      input.setAttribute("data-shrunk", "1");
    });
  }

  // Shrink photos as soon as they are chosen, so the submit itself is not delayed.
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t && t.matches && t.matches("input[type=file][data-downscale]")) {
      t.removeAttribute("data-shrunk");
      var form = t.form;
      if (form) form.setAttribute("data-shrinking", "1");
      shrinkInput(t).then(function () { if (form) form.removeAttribute("data-shrinking"); });
    }
  });

  // A submit while photos are still being shrunk waits for them, then goes on.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.getAttribute("data-shrinking")) {
      e.preventDefault();
      var wait = setInterval(function () {
        if (!form.getAttribute("data-shrinking")) { clearInterval(wait); (form.requestSubmit ? form.requestSubmit() : form.submit()); }
      }, 100);
    }
  }, true);

  function banner(form, text) {
    var box = form.querySelector(".net-error");
    if (!box) {
      box = document.createElement("div");
      box.className = "flash error net-error";
      box.setAttribute("role", "alert");
      form.insertBefore(box, form.firstChild);
    }
    box.innerHTML = "";
    box.appendChild(document.createTextNode(text + " "));
    var retry = document.createElement("button");
    retry.type = "button";
    retry.textContent = "重新提交";
    retry.onclick = function () { box.parentNode.removeChild(box); form.requestSubmit ? form.requestSubmit() : form.submit(); };
    box.appendChild(retry);
    if (box.scrollIntoView) box.scrollIntoView({ block: "center" });
  }

  function formOf(evt) {
    var elt = evt.detail && evt.detail.elt;
    if (!elt) return null;
    return elt.tagName === "FORM" ? elt : elt.closest ? elt.closest("form") : null;
  }

  document.addEventListener("htmx:sendError", function (evt) {
    var form = formOf(evt);
    if (form) banner(form, "网络断了，没有提交成功。填写的内容已保存在手机上，信号恢复后请点");
  });
  document.addEventListener("htmx:timeout", function (evt) {
    var form = formOf(evt);
    if (form) banner(form, "网络太慢，等待超时。内容已保存在手机上；如果其实已提交成功，重新提交也不会重复保存。请点");
  });
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var form = formOf(evt);
    if (form) form.classList.add("sending");
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    var form = formOf(evt);
    if (form) form.classList.remove("sending");
  });
  // Error pages (409 someone else acted, 422 fix a field, 413 too large) are real pages: show them.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var s = evt.detail.xhr.status;
    if (s === 409 || s === 422 || s === 413 || s === 403) { evt.detail.shouldSwap = true; evt.detail.isError = false; }
  });
})();
