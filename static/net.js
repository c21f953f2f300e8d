/* For phones on a weak mountain network (plain ES5 + Promise/canvas, as in Android WebViews of recent years):
   1. photos chosen in a form with data-downscale are shrunk in the browser (longest side 1600 px, JPEG)
      before upload, so a 5 MB camera photo travels as a few hundred KB; a submit made while they are
      still shrinking waits for them;
   2. an upload shows how far it has got, and is given time in proportion to its size (a 60 s limit would
      cut off every photo on a 2G link);
   3. a submit that fails because the signal dropped says so in plain Chinese and offers to retry; the
      form keeps its text (draft.js), its photos and its idempotency key, so a retry never saves twice;
      a page that fails to open says so too.
   Without JavaScript the forms still post normally. */
(function () {
  var MAX_SIDE = 1600, QUALITY = 0.8;
  var SLOWEST = 2048; // bytes per second an upload may crawl at (a poor 2G link) before we call it timed out

  function size(n) {
    return n >= 1048576 ? (n / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(n / 1024)) + " KB";
  }

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

  function note(input, text) {
    var el = input.nextElementSibling;
    if (!el || el.className !== "photo-note") {
      el = document.createElement("small");
      el.className = "photo-note";
      input.parentNode.insertBefore(el, input.nextSibling);
    }
    el.textContent = text;
  }

  function shrinkInput(input) {
    if (!input.files || !input.files.length || typeof DataTransfer === "undefined") return Promise.resolve();
    var files = Array.prototype.slice.call(input.files), before = 0;
    files.forEach(function (f) { before += f.size; });
    note(input, "正在压缩照片…");
    return Promise.all(files.map(shrink)).then(function (out) {
      var dt = new DataTransfer(), after = 0;
      out.forEach(function (f) { dt.items.add(f); after += f.size; });
      input.files = dt.files;
      input.setAttribute("data-shrunk", "1");
      note(input, out.length + " 个文件，共 " + size(after) + (after < before ? "（原 " + size(before) + "，已压缩）" : ""));
    });
  }

  // Shrink photos as soon as they are chosen, so the submit itself is not delayed.
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t && t.matches && t.matches("input[type=file][data-downscale]")) {
      t.removeAttribute("data-shrunk");
      var form = t.form;
      var done = function () { if (form) form.removeAttribute("data-shrinking"); };
      if (form) form.setAttribute("data-shrinking", "1");
      shrinkInput(t).then(done, done);
    }
  });

  // Remember which button sent a form, so a retry sends the same choice (回访: 办结 or 重办).
  document.addEventListener("click", function (e) {
    var b = e.target && e.target.closest ? e.target.closest("button[type=submit][name], input[type=submit][name]") : null;
    if (b && b.form) b.form._submitter = b;
  }, true);

  // Send the form again as if its button were pressed again (htmx reads the pressed button from the click).
  function resubmit(form) {
    var b = form._submitter;
    if (b && b.form === form) b.click();
    else if (form.requestSubmit) form.requestSubmit();
    else form.submit();
  }

  // A submit while photos are still being shrunk waits for them, then goes on. Stopping the event here
  // (capture phase, before it reaches the form) keeps htmx from sending the camera-sized originals.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.getAttribute("data-shrinking")) {
      e.preventDefault();
      e.stopPropagation();
      if (e.submitter) form._submitter = e.submitter;
      form.setAttribute("data-status", "正在压缩照片，压缩完自动提交…");
      form.classList.add("sending");
      var wait = setInterval(function () {
        if (!form.getAttribute("data-shrinking")) { clearInterval(wait); form.classList.remove("sending"); resubmit(form); }
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
    retry.onclick = function () { box.parentNode.removeChild(box); resubmit(form); };
    box.appendChild(retry);
    if (box.scrollIntoView) box.scrollIntoView({ block: "center" });
  }

  // A link or page that failed to open: one notice at the top of the page.
  function pageBanner(text) {
    var box = document.getElementById("net-notice");
    if (!box) {
      box = document.createElement("div");
      box.id = "net-notice";
      box.className = "flash error";
      box.setAttribute("role", "alert");
      var main = document.querySelector("main") || document.body;
      main.insertBefore(box, main.firstChild);
    }
    box.textContent = text;
    window.scrollTo(0, 0);
  }

  function formOf(evt) {
    var elt = evt.detail && evt.detail.elt;
    if (!elt) return null;
    return elt.tagName === "FORM" ? elt : elt.closest ? elt.closest("form") : null;
  }

  function failed(evt, formText, pageText) {
    var form = formOf(evt);
    if (form) banner(form, formText); else pageBanner(pageText);
  }

  document.addEventListener("htmx:sendError", function (evt) {
    failed(evt, "网络断了，没有提交成功。填写的内容和照片还在，信号恢复后请点",
      "网络断了，页面没有打开。请等信号恢复后再点一次。");
  });
  document.addEventListener("htmx:timeout", function (evt) {
    failed(evt, "网络太慢，等待超时。内容和照片还在；如果其实已提交成功，重新提交也不会重复保存。请点",
      "网络太慢，页面没有打开。请等信号好一些再点一次。");
  });

  // Time in proportion to the upload: 60 s for the answer plus what the files need at 2 KB/s.
  document.addEventListener("htmx:configRequest", function (evt) {
    var form = evt.detail.elt, bytes = 0;
    if (!form || form.tagName !== "FORM" || !evt.detail.timeout) return;
    var inputs = form.querySelectorAll("input[type=file]");
    for (var i = 0; i < inputs.length; i++) {
      for (var j = 0; inputs[i].files && j < inputs[i].files.length; j++) bytes += inputs[i].files[j].size;
    }
    if (bytes) evt.detail.timeout += Math.round(bytes / SLOWEST * 1000);
  });

  document.addEventListener("htmx:beforeSend", function (evt) {
    // only a form's own submission locks its buttons; a field's background request (caller history,
    // unit suggestion) must never swallow the operator's click on 保存
    var form = evt.detail.elt && evt.detail.elt.tagName === "FORM" ? evt.detail.elt : null, xhr = evt.detail.xhr;
    if (!form) return;
    form.setAttribute("data-status", "正在提交…");
    form.classList.add("sending");
    if (xhr && xhr.upload && form.enctype === "multipart/form-data") {
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable || !e.total) return;
        form.setAttribute("data-status", e.loaded < e.total
          ? "正在上传 " + size(e.loaded) + " / " + size(e.total) + "（" + Math.floor(e.loaded * 100 / e.total) + "%）"
          : "已上传，等待服务器确认…");
      });
    }
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    var form = evt.detail.elt && evt.detail.elt.tagName === "FORM" ? evt.detail.elt : null;
    if (form) form.classList.remove("sending");
  });
  // Error pages (409 someone else acted, 422 fix a field, 413 too large) are real pages: show them.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var s = evt.detail.xhr.status;
    if (s === 409 || s === 422 || s === 413 || s === 403) { evt.detail.shouldSwap = true; evt.detail.isError = false; }
  });
})();
