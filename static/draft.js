/* Nothing typed is lost: forms marked data-draft="key" are saved to localStorage as they are typed,
   offered back after a crash, a closed tab or a failed submit, and cleared once the server says the
   form was saved (a page with ?saved=key). Plain ES5 for old Android WebViews. */
(function () {
  var PREFIX = "hotline-draft:";
  var store;
  try { store = window.localStorage; store.setItem(PREFIX + "t", "1"); store.removeItem(PREFIX + "t"); }
  catch (e) { store = null; }
  if (!store) return;

  function fields(form) {
    var out = {}, els = form.elements;
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (!el.name || el.type === "hidden" || el.type === "file" || el.type === "password" || el.type === "submit") continue;
      if (el.type === "checkbox" || el.type === "radio") { if (el.checked) out[el.name + "=" + el.value] = true; }
      else if (el.multiple) { for (var j = 0; j < el.options.length; j++) if (el.options[j].selected) out[el.name + "=" + el.options[j].value] = true; }
      else if (el.value) out[el.name] = el.value;
    }
    return out;
  }

  function hasText(data) { for (var k in data) if (data.hasOwnProperty(k) && typeof data[k] === "string") return true; return false; }

  function fill(form, data) {
    var els = form.elements;
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (!el.name || el.type === "hidden" || el.type === "file") continue;
      if (el.type === "checkbox" || el.type === "radio") el.checked = !!data[el.name + "=" + el.value];
      else if (el.multiple) { for (var j = 0; j < el.options.length; j++) el.options[j].selected = !!data[el.name + "=" + el.options[j].value]; }
      else if (data.hasOwnProperty(el.name)) el.value = data[el.name];
    }
  }

  function restore(form, draft) {
    fill(form, draft.data);
    if (draft.idem && form.elements.idem) form.elements.idem.value = draft.idem;
  }

  function save(form) {
    if (!document.body.contains(form)) return;  // replaced by the page the server sent back
    var data = fields(form);
    var key = PREFIX + form.getAttribute("data-draft");
    // the form's idempotency key travels with its text: a restored draft whose first submit did arrive
    // is then recognised by the server instead of being saved a second time
    var idem = form.elements.idem ? form.elements.idem.value : "";
    if (hasText(data)) store.setItem(key, JSON.stringify({ at: new Date().toLocaleString(), data: data, idem: idem }));
    else store.removeItem(key);
  }

  function clearSaved() {
    // the server marks a page reached after a successful save; the draft of that form is then obsolete
    var marks = document.querySelectorAll("[data-clear-draft]");
    for (var i = 0; i < marks.length; i++) store.removeItem(PREFIX + marks[i].getAttribute("data-clear-draft"));
  }

  function offer(form) {
    // the server sent the form back with the user's text in it (a field to fix): nothing to offer
    if (form.getAttribute("data-draft-server")) return;
    var key = PREFIX + form.getAttribute("data-draft");
    var raw = store.getItem(key);
    if (!raw) return;
    var draft;
    try { draft = JSON.parse(raw); } catch (e) { store.removeItem(key); return; }
    var current = fields(form);
    var same = JSON.stringify(current) === JSON.stringify(draft.data);
    if (same) return;
    var box = document.getElementById("draft-offer");
    if (!hasText(current) && !box) { restore(form, draft); markRestored(form); return; }
    if (!box) {
      if (!hasText(current)) restore(form, draft);
      return;
    }
    box.hidden = false;
    var t = box.querySelector("[data-draft-time]"); if (t) t.textContent = draft.at;
    box.querySelector("[data-draft-restore]").onclick = function () { restore(form, draft); box.hidden = true; };
    box.querySelector("[data-draft-discard]").onclick = function () { store.removeItem(key); box.hidden = true; };
  }

  function markRestored(form) {
    var d = form.closest ? form.closest("details") : null;
    if (d) d.open = true;
    var note = document.createElement("p");
    note.className = "flash info";
    note.textContent = "已恢复上次未提交的内容。";
    form.insertBefore(note, form.firstChild);
  }

  function init(root) {
    clearSaved();
    var forms = (root || document).querySelectorAll("form[data-draft]");
    for (var i = 0; i < forms.length; i++) {
      var form = forms[i];
      if (form.getAttribute("data-draft-ready")) continue;
      form.setAttribute("data-draft-ready", "1");
      offer(form);
      watch(form);
    }
  }

  function watch(form) {
    var timer = null;  // one pause per form
    function later() { clearTimeout(timer); timer = setTimeout(function () { save(form); }, 300); }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    // save now and drop the pending save: after a quick success it would bring the sent text back as a draft
    form.addEventListener("submit", function () { clearTimeout(timer); save(form); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { init(); });
  else init();
  document.addEventListener("htmx:load", function (e) { init(e.target); });
})();
