// In-place playback for archivetag serve: hits play from their start and stop at their end,
// "play from here" keeps going, the file page's timeline plays from where it is clicked.
// Keys: / focus the search box, j/k next/previous hit, space play/pause.
"use strict";

// Where the media element is on the file's own timeline, in seconds. A transcode starts at
// the second it was asked for (data-offset), a file played as it is at 0.
function position(player) {
  return player.currentTime + Number(player.dataset.offset || 0);
}

function playerOf(element) {
  return element.closest(".file").querySelector(".player");
}

function play(player, start, end) {
  document.querySelectorAll(".player").forEach(function (other) {
    if (other !== player) other.pause();
  });
  player.dataset.end = end === null ? "" : String(end);
  if (player.dataset.transcoded === "true") {
    player.dataset.offset = String(start);
    player.src = player.dataset.src + "?start=" + start;
    player.play();
    return;
  }
  player.dataset.offset = "0";
  player.preload = "auto";  // metadata is needed before a seek
  if (!player.getAttribute("src")) player.src = player.dataset.src;
  var seek = function () { player.currentTime = start; player.play(); };
  if (player.readyState >= 1) seek();
  else player.addEventListener("loadedmetadata", seek, { once: true });
}

function stopAtEnd(event) {
  var player = event.target;
  if (player.dataset.end && position(player) >= Number(player.dataset.end)) {
    player.pause();
    player.dataset.end = "";
  }
}

function select(hit) {
  document.querySelectorAll(".hit.selected").forEach(function (h) { h.classList.remove("selected"); });
  hit.classList.add("selected");
  hit.scrollIntoView({ block: "nearest" });
}

function playHit(hit, keepGoing) {
  select(hit);
  play(playerOf(hit), Number(hit.dataset.start), keepGoing ? null : Number(hit.dataset.end));
}

function timelineClick(event) {
  var svg = event.currentTarget;
  var point = svg.createSVGPoint();
  point.x = event.clientX;
  point.y = event.clientY;
  var x = point.matrixTransform(svg.getScreenCTM().inverse()).x;
  var left = Number(svg.dataset.left), width = Number(svg.dataset.width);
  var fraction = Math.min(1, Math.max(0, (x - left) / (width - left)));
  play(playerOf(svg), fraction * Number(svg.dataset.duration), null);
}

function onKey(event) {
  var typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
  if (event.key === "/" && !typing) {
    event.preventDefault();
    var box = document.getElementById("q");
    if (box) { box.focus(); box.select(); }
    return;
  }
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  var hits = Array.prototype.slice.call(document.querySelectorAll(".hit"));
  if (!hits.length) return;
  var current = hits.indexOf(document.querySelector(".hit.selected"));
  if (event.key === "j" || event.key === "k") {
    var next = current + (event.key === "j" ? 1 : -1);
    select(hits[Math.min(hits.length - 1, Math.max(0, next))]);
  } else if (event.key === " ") {
    event.preventDefault();
    var hit = hits[Math.max(0, current)];
    var player = playerOf(hit);
    if (!player.paused) player.pause();
    else if (current >= 0 && player.getAttribute("src")) player.play();
    else playHit(hit, false);
  }
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".play-hit").forEach(function (button) {
    button.addEventListener("click", function () { playHit(button.closest(".hit"), false); });
  });
  document.querySelectorAll(".play-from").forEach(function (button) {
    button.addEventListener("click", function () { playHit(button.closest(".hit"), true); });
  });
  document.querySelectorAll(".player").forEach(function (player) {
    player.addEventListener("timeupdate", stopAtEnd);
  });
  document.querySelectorAll("svg.timeline").forEach(function (svg) {
    svg.addEventListener("click", timelineClick);
  });
  document.addEventListener("keydown", onKey);
});
