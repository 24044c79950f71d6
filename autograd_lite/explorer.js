// The explorer page's script, inlined into every page by autograd_lite/explorer.py. It reads
// the nodes and steps from the JSON in #explore-data and drives the SVG graph.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("explore-data").textContent);
  var steps = data.steps, nodes = data.nodes, position = 0, timer = null;
  var svg = document.querySelector("#graph svg");
  var $ = function (id) { return document.getElementById(id); };
  var record = {}, texts = {};
  Object.keys(nodes).forEach(function (id) {
    var g = svg.querySelector('g.node[id="' + id + '"]');
    record[id] = g;
    var t = g ? g.querySelectorAll("text") : [];
    texts[id] = { data: t[t.length - 2], grad: t[t.length - 1] };
  });
  function edgesInto(id) {
    var found = [];
    svg.querySelectorAll("g.edge").forEach(function (e) {
      var from = e.getAttribute("data-from"), to = e.getAttribute("data-to");
      if (to === id + "op" || (from === id + "op" && to === id)) { found.push(e); }
    });
    return found;
  }
  // the state after `position` steps: what is computed, which gradients are known
  function state(upTo) {
    var computed = {}, grads = {}, gradTexts = {};
    Object.keys(nodes).forEach(function (id) { if (nodes[id].leaf) { computed[id] = true; } });
    for (var i = 0; i < upTo; i++) {
      var s = steps[i];
      if (s.phase === "forward") { computed[s.node] = true; continue; }
      grads[s.node] = s.grad; gradTexts[s.node] = s.gradText;
      s.edges.forEach(function (e) { grads[e.input] = e.total; gradTexts[e.input] = e.totalText; });
    }
    return { computed: computed, grads: grads, gradTexts: gradTexts };
  }
  function describe(id, now) {
    var n = nodes[id];
    var grad = id in now.grads ? String(now.grads[id]) : "not yet known";
    var value = now.computed[id] ? String(n.data) : "not yet computed";
    return (n.label || n.name) + "\ndata " + value + "\ngrad " + grad;
  }
  var current = null;
  function show() {
    var now = state(position), step = steps[position - 1];
    current = now;
    svg.querySelectorAll(".current, .current-op, .active").forEach(function (el) {
      el.classList.remove("current", "current-op", "active");
    });
    Object.keys(nodes).forEach(function (id) {
      var g = record[id];
      if (!g) { return; }
      g.classList.toggle("pending", !now.computed[id]);
      g.classList.toggle("reached", id in now.grads);
      var t = texts[id];
      if (t.data) { t.data.textContent = now.computed[id] ? nodes[id].dataText : "data"; }
      if (t.grad) { t.grad.textContent = now.gradTexts[id] || "grad"; }
      var title = g.querySelector("title");
      if (title) { title.textContent = describe(id, now); }
    });
    if (step) {
      record[step.node].classList.add("current");
      var op = svg.querySelector('g.node[id="' + step.node + 'op"]');
      if (op) { op.classList.add("current-op"); }
      edgesInto(step.node).forEach(function (e) { e.classList.add("active"); });
    }
    var backward = steps.filter(function (s) { return s.phase === "backward"; }).length;
    var forward = steps.length - backward;
    var phase;
    if (!step) {
      phase = "Start: only the inputs are known. Next computes the forward pass.";
    } else if (step.phase === "forward") {
      phase = "Forward pass, step " + position + " of " + forward + ": compute " +
        nodes[step.node].name;
    } else {
      phase = "Backward pass, step " + (position - forward) + " of " + backward + ": d" +
        data.rootName + "/d" + nodes[step.node].name + " = " + step.grad +
        " is complete; pass it back to the inputs";
    }
    $("phase").textContent = phase;
    var list = $("arithmetic");
    while (list.firstChild) { list.removeChild(list.firstChild); }
    (step ? step.text : []).forEach(function (line) {
      var item = document.createElement("li");
      item.textContent = line;
      list.appendChild(item);
    });
    typeset(step);
    $("counter").textContent = position + " / " + steps.length;
    $("prev").disabled = position === 0;
    $("next").disabled = position === steps.length;
    if (position === steps.length) { stop(); }
  }
  // the step's chain rule as typeset maths (KaTeX, inline in the page), when it has one
  function typeset(step) {
    var box = $("formula");
    while (box.firstChild) { box.removeChild(box.firstChild); }
    if (!step || !step.latex || !window.katex) { return; }
    window.katex.render(step.latex, box, {
      displayMode: true, throwOnError: false, strict: "ignore", trust: false
    });
  }
  function go(to) { position = Math.max(0, Math.min(steps.length, to)); show(); }
  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    $("play").textContent = "Play";
    $("play").setAttribute("aria-pressed", "false");
  }
  function play() {
    if (timer !== null) { stop(); return; }
    if (position === steps.length) { go(0); }
    $("play").textContent = "Pause";
    $("play").setAttribute("aria-pressed", "true");
    timer = setInterval(function () { go(position + 1); }, 900);
  }
  $("prev").addEventListener("click", function () { stop(); go(position - 1); });
  $("next").addEventListener("click", function () { stop(); go(position + 1); });
  $("play").addEventListener("click", play);
  document.addEventListener("keydown", function (event) {
    var moves = { ArrowRight: 1, ArrowLeft: -1 };
    if (event.key in moves) { stop(); go(position + moves[event.key]); event.preventDefault(); }
    else if (event.key === "Home") { stop(); go(0); event.preventDefault(); }
    else if (event.key === "End") { stop(); go(steps.length); event.preventDefault(); }
  });
  var tip = $("tooltip");
  Object.keys(record).forEach(function (id) {
    var g = record[id];
    if (!g) { return; }
    g.addEventListener("mousemove", function (event) {
      tip.textContent = describe(id, current);
      tip.style.left = (event.clientX + 14) + "px";
      tip.style.top = (event.clientY + 14) + "px";
      tip.hidden = false;
    });
    g.addEventListener("mouseleave", function () { tip.hidden = true; });
  });
  window.explorer = {
    steps: steps, go: go,
    position: function () { return position; },
    grads: function () { return state(position).grads; }
  };
  show();
})();
