"use strict";
// The playground page: draws the session's state and sends the settings to the JSON API.
// Everything comes from the local server; nothing else is loaded.
(function () {
  const token = new URLSearchParams(location.search).get("token") || "";
  const FEATURES = ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"];
  const NEGATIVE = [245, 147, 34];
  const ZERO = [232, 234, 235];
  const POSITIVE = [8, 119, 189];
  const CLASSES = [NEGATIVE, POSITIVE, [47, 160, 80]];
  const NODE = 40;
  const byId = (id) => document.getElementById(id);
  let state = null;
  let shape = "";
  let polling = false;
  let showGradients = false;
  let selected = null;
  let editing = null;

  function say(text) {
    byId("status").textContent = text || "";
  }

  function api(method, path, body) {
    const options = { method: method, headers: { Authorization: "token " + token } };
    if (body !== undefined) {
      options.body = JSON.stringify(body);
      options.headers["Content-Type"] = "application/json";
    }
    return fetch("api/" + path, options).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) {
          throw new Error(data.error || response.statusText);
        }
        return data;
      });
    });
  }

  function send(method, path, body) {
    return api(method, path, body).then(function (data) {
      say(data.error ? data.error : "");
      render(data);
      return data;
    }).catch(function (error) {
      say(error.message);
      if (state) {
        fillSettings(state.config);
      }
    });
  }

  // ---- colours -------------------------------------------------------------------------
  function mix(a, b, t) {
    return [0, 1, 2].map(function (i) { return Math.round(a[i] + (b[i] - a[i]) * t); });
  }

  function colour(v) {
    const t = Math.max(-1, Math.min(1, v));
    return t < 0 ? mix(ZERO, NEGATIVE, -t) : mix(ZERO, POSITIVE, t);
  }

  function css(rgb) {
    return "rgb(" + rgb.join(",") + ")";
  }

  function paint(canvas, size, pixel) {
    const context = canvas.getContext("2d");
    const image = context.createImageData(size, size);
    for (let k = 0; k < size * size; k += 1) {
      const rgb = pixel(k);
      image.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * k);
    }
    context.putImageData(image, 0, 0);
  }

  function scaled(values) {
    const most = values.reduce(function (m, v) { return Math.max(m, Math.abs(v)); }, 0);
    return function (k) { return colour(most > 0 ? values[k] / most : 0); };
  }

  // ---- the settings --------------------------------------------------------------------
  function settingValue(element) {
    if (element.tagName === "SELECT") {
      return element.value === "" ? null : element.value;
    }
    if (element.value === "") {
      return null;
    }
    return Number(element.value);
  }

  function fillSettings(config) {
    document.querySelectorAll("[data-key]").forEach(function (element) {
      const value = config[element.dataset.key];
      element.value = value === null ? "" : String(value);
    });
    document.querySelectorAll("#features input").forEach(function (box) {
      box.checked = config.features.indexOf(box.value) >= 0;
    });
    const hidden = config.hidden;
    byId("layer-count").textContent = hidden.length + " hidden layer" +
      (hidden.length === 1 ? "" : "s") + (hidden.length ? ": " + hidden.join(", ") : "");
    byId("add-layer").disabled = hidden.length >= 6;
    byId("remove-layer").disabled = hidden.length === 0;
  }

  function configure(changes) {
    return send("POST", "config", changes);
  }

  function buildSettings() {
    const box = byId("features");
    FEATURES.forEach(function (name) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "checkbox";
      input.value = name;
      input.addEventListener("change", function () {
        const chosen = Array.from(box.querySelectorAll("input:checked")).map(function (b) {
          return b.value;
        });
        configure({ features: chosen });
      });
      label.append(input, " " + name);
      box.append(label);
    });
    document.querySelectorAll("[data-key]").forEach(function (element) {
      element.addEventListener("change", function () {
        const changes = {};
        changes[element.dataset.key] = settingValue(element);
        configure(changes);
      });
    });
    byId("csv-file").addEventListener("change", function (event) {
      const file = event.target.files[0];
      if (file) {
        file.text().then(function (text) { send("POST", "data", { csv: text }); });
      }
    });
    byId("add-layer").addEventListener("click", function () {
      configure({ hidden: state.config.hidden.concat([2]) });
    });
    byId("remove-layer").addEventListener("click", function () {
      configure({ hidden: state.config.hidden.slice(0, -1) });
    });
  }

  // ---- the URL holds the configuration -------------------------------------------------
  function hashConfig() {
    const params = new URLSearchParams(location.hash.slice(1));
    const changes = {};
    params.forEach(function (text, key) {
      if (key === "hidden") {
        changes[key] = text === "" ? [] : text.split(",").map(Number);
      } else if (key === "features") {
        changes[key] = text.split(",");
      } else if (text === "null") {
        changes[key] = null;
      } else if (text !== "" && !isNaN(Number(text))) {
        changes[key] = Number(text);
      } else {
        changes[key] = text;
      }
    });
    return changes;
  }

  function writeHash(config, defaults) {
    const params = [];
    Object.keys(config).forEach(function (key) {
      const value = Array.isArray(config[key]) ? config[key].join(",") : String(config[key]);
      const standard = Array.isArray(defaults[key]) ? defaults[key].join(",") : String(defaults[key]);
      if (value !== standard) {
        params.push(key + "=" + encodeURIComponent(value).replace(/%2C/g, ","));
      }
    });
    const hash = params.length ? "#" + params.join("&") : "";
    if (hash !== location.hash) {
      history.replaceState(null, "", location.pathname + location.search + hash);
    }
  }

  // ---- the network ---------------------------------------------------------------------
  function columns(data) {
    const sizes = [data.config.features.length];
    data.network.layers.forEach(function (layer) { sizes.push(layer.neurons.length); });
    return sizes;
  }

  function position(sizes, column, row) {
    const width = byId("network").clientWidth || 600;
    const x = 30 + (width - 60 - NODE) * column / Math.max(sizes.length - 1, 1);
    return { x: x, y: 40 + row * 52 };
  }

  function neuronElement(data, column, row, point) {
    const input = column === 0;
    const element = document.createElement(input ? "div" : "button");
    element.className = input ? "neuron input" : "neuron";
    element.style.left = point.x + "px";
    element.style.top = point.y + "px";
    const canvas = document.createElement("canvas");
    canvas.width = data.heatmaps.size;
    canvas.height = data.heatmaps.size;
    element.append(canvas);
    if (input) {
      element.title = data.config.features[row];
    } else {
      element.type = "button";
      element.dataset.layer = String(column - 1);
      element.dataset.neuron = String(row);
      element.setAttribute("aria-label", "neuron " + (row + 1) + " of layer " + column);
      element.addEventListener("click", function () { backward(column - 1, row); });
      element.addEventListener("mouseenter", function (event) { neuronTip(element, event); });
      element.addEventListener("mouseleave", hideTip);
    }
    return element;
  }

  function widthButtons(network, layer, point) {
    ["+", "-"].forEach(function (sign, k) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "width";
      button.textContent = sign;
      button.dataset.layer = String(layer);
      button.setAttribute("aria-label", (sign === "+" ? "add a neuron to" : "remove a neuron from") +
        " hidden layer " + (layer + 1));
      button.style.position = "absolute";
      button.style.left = (point.x - 6 + k * 28) + "px";
      button.style.top = "8px";
      button.addEventListener("click", function () {
        const hidden = state.config.hidden.slice();
        hidden[layer] = Math.max(1, Math.min(8, hidden[layer] + (sign === "+" ? 1 : -1)));
        configure({ hidden: hidden });
      });
      network.append(button);
    });
  }

  function edgeElement(svg, from, to, layer, neuron, index) {
    const line = document.createElementNS("http://www.w3.org/2000/svg", "line");
    line.setAttribute("x1", String(from.x + NODE));
    line.setAttribute("y1", String(from.y + NODE / 2));
    line.setAttribute("x2", String(to.x));
    line.setAttribute("y2", String(to.y + NODE / 2));
    line.setAttribute("class", "edge");
    line.setAttribute("tabindex", "0");
    line.dataset.layer = String(layer);
    line.dataset.neuron = String(neuron);
    line.dataset.index = String(index);
    line.addEventListener("mouseenter", function (event) { edgeTip(line, event); });
    line.addEventListener("focus", function () { edgeTip(line, null); });
    line.addEventListener("mouseleave", hideTip);
    line.addEventListener("blur", hideTip);
    line.addEventListener("click", function () { editWeight(line); });
    line.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        editWeight(line);
      }
    });
    svg.append(line);
  }

  function buildNetwork(data) {
    const network = byId("network");
    const svg = byId("edges");
    network.querySelectorAll(".neuron, .width, .layer-label").forEach(function (e) { e.remove(); });
    svg.replaceChildren();
    const sizes = columns(data);
    const height = 60 + 52 * Math.max.apply(null, sizes);
    network.style.height = Math.max(380, height) + "px";
    sizes.forEach(function (size, column) {
      for (let row = 0; row < size; row += 1) {
        const point = position(sizes, column, row);
        network.append(neuronElement(data, column, row, point));
        if (column > 0) {
          for (let i = 0; i < sizes[column - 1]; i += 1) {
            edgeElement(svg, position(sizes, column - 1, i), point, column - 1, row, i);
          }
        }
      }
      if (column > 0 && column < sizes.length - 1) {
        widthButtons(network, column - 1, position(sizes, column, 0));
      }
    });
  }

  function drawEdges(data) {
    const key = showGradients ? "grads" : "weights";
    let most = 0;
    data.network.layers.forEach(function (layer) {
      layer.neurons.forEach(function (n) {
        n[key].forEach(function (v) { most = Math.max(most, Math.abs(v)); });
      });
    });
    document.querySelectorAll("#edges line.edge").forEach(function (line) {
      const n = data.network.layers[+line.dataset.layer].neurons[+line.dataset.neuron];
      const v = n[key][+line.dataset.index];
      const t = most > 0 ? v / most : 0;
      line.setAttribute("stroke", css(colour(t === 0 ? 0 : Math.sign(t) * Math.max(0.35, Math.abs(t)))));
      line.setAttribute("stroke-width", (0.5 + 5 * Math.abs(t)).toFixed(2));
    });
  }

  function drawHeatmaps(data) {
    const size = data.heatmaps.size;
    document.querySelectorAll("#network .neuron").forEach(function (element, k) {
      const canvas = element.querySelector("canvas");
      let values;
      if (element.classList.contains("input")) {
        values = data.heatmaps.inputs[k];
      } else {
        values = data.heatmaps.neurons[+element.dataset.layer][+element.dataset.neuron];
      }
      paint(canvas, size, scaled(values));
      element.classList.toggle("selected", selected !== null && !element.classList.contains("input") &&
        +element.dataset.layer === selected[0] && +element.dataset.neuron === selected[1]);
    });
  }

  // ---- gradient norms, output, losses ---------------------------------------------------
  function drawNorms(data) {
    const box = byId("gradient-norms");
    box.replaceChildren();
    const count = data.network.layers.length;
    data.network.layers.forEach(function (layer, k) {
      const row = document.createElement("div");
      row.className = "bar-row";
      row.dataset.norm = String(layer.gradient_norm);
      const name = document.createElement("span");
      name.textContent = k === count - 1 ? "output" : "layer " + (k + 1);
      const track = document.createElement("div");
      const bar = document.createElement("div");
      bar.className = "bar";
      const logNorm = layer.gradient_norm > 0 ? Math.log10(layer.gradient_norm) : -10;
      bar.style.width = Math.max(1, Math.min(100, (logNorm + 8) * 12.5)) + "%";
      track.append(bar);
      const value = document.createElement("span");
      value.textContent = layer.gradient_norm.toExponential(2);
      row.append(name, track, value);
      box.append(row);
    });
  }

  function outputPixel(data) {
    const last = data.heatmaps.neurons[data.heatmaps.neurons.length - 1];
    if (data.task === "classes") {
      return function (k) {
        const scores = last.map(function (values) { return values[k]; });
        const top = Math.max.apply(null, scores);
        const weights = scores.map(function (s) { return Math.exp(s - top); });
        const total = weights.reduce(function (a, b) { return a + b; }, 0);
        let rgb = [0, 0, 0];
        weights.forEach(function (w, c) {
          rgb = rgb.map(function (value, i) { return value + CLASSES[c][i] * w / total; });
        });
        return mix(ZERO, rgb.map(Math.round), 0.8);
      };
    }
    if (data.task === "binary") {
      return function (k) { return colour(2 / (1 + Math.exp(-last[0][k])) - 1); };
    }
    return function (k) { return colour(last[0][k]); };
  }

  function pointColour(data, label) {
    if (data.task === "classes") {
      return css(CLASSES[label]);
    }
    return css(colour(data.task === "binary" ? 2 * label - 1 : label));
  }

  function drawOutput(data) {
    const canvas = byId("output");
    const size = data.heatmaps.size;
    const small = document.createElement("canvas");
    small.width = size;
    small.height = size;
    paint(small, size, outputPixel(data));
    const context = canvas.getContext("2d");
    context.imageSmoothingEnabled = true;
    context.drawImage(small, 0, 0, canvas.width, canvas.height);
    const extent = data.heatmaps.extent;
    [["train", "#fff"], ["validation", "#000"]].forEach(function (kind) {
      data.points[kind[0]].forEach(function (p) {
        const x = (p[0] + extent) / (2 * extent) * canvas.width;
        const y = (extent - p[1]) / (2 * extent) * canvas.height;
        context.beginPath();
        context.arc(x, y, 3.5, 0, 2 * Math.PI);
        context.fillStyle = pointColour(data, p[2]);
        context.fill();
        context.strokeStyle = kind[1];
        context.lineWidth = 1;
        context.stroke();
      });
    });
  }

  function drawLosses(data) {
    const canvas = byId("loss-chart");
    const context = canvas.getContext("2d");
    context.clearRect(0, 0, canvas.width, canvas.height);
    const train = data.history.train_loss;
    const validation = data.history.validation_loss;
    const all = train.concat(validation).filter(function (v) { return v !== null && isFinite(v); });
    const top = Math.max.apply(null, all.concat([1e-9]));
    [[train, "#183d4e", []], [validation, "#f59322", [4, 3]]].forEach(function (curve) {
      context.beginPath();
      context.setLineDash(curve[2]);
      context.strokeStyle = curve[1];
      context.lineWidth = 2;
      curve[0].forEach(function (v, k) {
        const x = 4 + (canvas.width - 8) * k / Math.max(train.length - 1, 1);
        const y = canvas.height - 4 - (canvas.height - 8) * (v === null ? 0 : v) / top;
        if (k === 0) {
          context.moveTo(x, y);
        } else {
          context.lineTo(x, y);
        }
      });
      context.stroke();
    });
    context.setLineDash([]);
  }

  // ---- the numbers and the buttons ------------------------------------------------------
  function showNumber(id, value) {
    const element = byId(id);
    element.dataset.value = String(value);
    element.textContent = value === null ? "-" : value.toPrecision(12);
  }

  function render(data) {
    if (!data || data.epoch === undefined) {
      return;
    }
    const fresh = state === null || state.version !== data.version;
    state = data;
    byId("epoch").textContent = String(data.epoch);
    showNumber("train-loss", data.train_loss);
    showNumber("validation-loss", data.validation_loss);
    byId("play").disabled = data.playing || data.stopped !== null;
    byId("pause").disabled = !data.playing;
    byId("step").disabled = data.stopped !== null;
    if (data.stopped === "early_stopping") {
      say("Stopped early: the validation loss has not improved for " + data.config.early_stopping + " epochs.");
    } else if (data.error) {
      say(data.error);
    }
    if (!fresh && shape !== "") {
      return;
    }
    const newShape = JSON.stringify([data.config.features, data.config.hidden, columns(data)]);
    if (newShape !== shape) {
      shape = newShape;
      buildNetwork(data);
    }
    fillSettings(data.config);
    writeHash(data.config, data.defaults);
    drawEdges(data);
    drawHeatmaps(data);
    drawNorms(data);
    drawOutput(data);
    drawLosses(data);
  }

  // ---- hover, edit, one backward pass --------------------------------------------------
  function showTip(text, x, y) {
    const tip = byId("tooltip");
    tip.textContent = text;
    tip.style.left = (x + 12) + "px";
    tip.style.top = (y + 12) + "px";
    tip.hidden = false;
  }

  function hideTip() {
    byId("tooltip").hidden = true;
  }

  function weightOf(line) {
    const n = state.network.layers[+line.dataset.layer].neurons[+line.dataset.neuron];
    const i = +line.dataset.index;
    return { value: n.weights[i], grad: n.grads[i] };
  }

  function edgeName(line) {
    return "layer " + (+line.dataset.layer + 1) + ", neuron " + (+line.dataset.neuron + 1) +
      ", input " + (+line.dataset.index + 1);
  }

  function edgeTip(line, event) {
    const w = weightOf(line);
    const box = line.getBoundingClientRect();
    const x = event ? event.clientX : box.left + box.width / 2;
    const y = event ? event.clientY : box.top + box.height / 2;
    showTip("w = " + w.value.toPrecision(6) + "\ndL/dw = " + w.grad.toPrecision(6) +
      "\n" + edgeName(line), x, y);
  }

  function neuronTip(element, event) {
    const n = state.network.layers[+element.dataset.layer].neurons[+element.dataset.neuron];
    showTip("bias b = " + n.bias.toPrecision(6) + "\ndL/db = " + n.bias_grad.toPrecision(6) +
      "\nclick: one example's backward pass", event.clientX, event.clientY);
  }

  function editWeight(line) {
    editing = line;
    byId("weight-name").textContent = "(" + edgeName(line) + ")";
    byId("weight-value").value = String(weightOf(line).value);
    byId("weight-editor").hidden = false;
    byId("weight-value").focus();
  }

  function setWeight(event) {
    event.preventDefault();
    if (editing === null) {
      return;
    }
    const line = editing;
    editing = null;
    byId("weight-editor").hidden = true;
    send("POST", "weight", {
      layer: +line.dataset.layer,
      neuron: +line.dataset.neuron,
      index: +line.dataset.index,
      value: Number(byId("weight-value").value),
    });
  }

  function showBackward(data) {
    const box = byId("backward");
    box.replaceChildren();
    const head = document.createElement("p");
    head.textContent = "Example " + data.example + " at (" + data.point.map(function (v) {
      return v.toFixed(3);
    }).join(", ") + "), target " + data.target + ": loss L = " + data.loss.toPrecision(4) +
      "; this neuron's output out = " + data.output.toPrecision(4) +
      (data.steps.length ? ", and dL/dout = " + data.steps[0].grad.toPrecision(4) : "") +
      " from the layers after it. Its backward pass:";
    const list = document.createElement("ol");
    data.steps.forEach(function (step) {
      step.lines.forEach(function (line) {
        const item = document.createElement("li");
        item.textContent = line;
        list.append(item);
      });
    });
    box.append(head, list);
  }

  function backward(layer, neuron) {
    selected = [layer, neuron];
    if (state) {
      drawHeatmaps(state);
    }
    const example = Math.max(0, Math.floor(Number(byId("example").value) || 0));
    api("POST", "backward", { layer: layer, neuron: neuron, example: example })
      .then(showBackward)
      .catch(function (error) { say(error.message); });
  }

  // ---- training ------------------------------------------------------------------------
  function poll() {
    api("GET", "state").then(function (data) {
      render(data);
      if (data.playing) {
        setTimeout(poll, 150);
      } else {
        polling = false;
      }
    }).catch(function (error) {
      polling = false;
      say(error.message);
    });
  }

  function startPolling() {
    if (!polling) {
      polling = true;
      poll();
    }
  }

  function idle() {
    if (!polling && document.visibilityState === "visible") {
      api("GET", "state").then(function (data) {
        render(data);
        if (data.playing) {
          startPolling();
        }
      }).catch(function () { /* the server may be gone: the next tick tries again */ });
    }
    setTimeout(idle, 1500);
  }

  function buttons() {
    byId("play").addEventListener("click", function () {
      send("POST", "play", {}).then(startPolling);
    });
    byId("pause").addEventListener("click", function () { send("POST", "pause", {}); });
    byId("reset").addEventListener("click", function () { send("POST", "reset", {}); });
    byId("step").addEventListener("click", function () { send("POST", "step", { epochs: 1 }); });
    byId("show-gradients").addEventListener("change", function (event) {
      showGradients = event.target.checked;
      if (state) {
        drawEdges(state);
      }
    });
    byId("weight-editor").addEventListener("submit", setWeight);
    byId("weight-cancel").addEventListener("click", function () {
      editing = null;
      byId("weight-editor").hidden = true;
    });
    const query = "?token=" + encodeURIComponent(token);
    byId("export").href = "api/export.py" + query;
    byId("download-model").href = "api/model.json" + query;
  }

  function start() {
    buildSettings();
    buttons();
    if (!token) {
      say("This page needs its token: open the link the playground printed.");
      return;
    }
    api("GET", "state").then(function (data) {
      byId("init").replaceChildren.apply(byId("init"), data.choices.init.map(function (name) {
        const option = document.createElement("option");
        option.value = name;
        option.textContent = name;
        return option;
      }));
      const changes = hashConfig();
      const differs = Object.keys(changes).some(function (key) {
        return JSON.stringify(changes[key]) !== JSON.stringify(data.config[key]);
      });
      if (differs) {
        return configure(changes).then(function () { render(state || data); });
      }
      render(data);
      if (data.playing) {
        startPolling();
      }
      return data;
    }).catch(function (error) { say(error.message); }).then(function () {
      setTimeout(idle, 1500);
    });
  }

  window.playground = {
    state: function () { return state; },
    refresh: function () { return api("GET", "state").then(render); },
  };
  start();
})();
