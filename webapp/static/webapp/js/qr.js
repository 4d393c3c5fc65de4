// A QR code drawn on a <canvas> (no HTML strings), with qrcode-generator 2.0.4 (MIT, vendored).
import qrcode from "../vendor/qrcode-generator-2.0.4.mjs";
import { el } from "./ui.js";

export function qrCanvas(text, { label, cell = 4, margin = 4 } = {}) {
  const qr = qrcode(0, "M");
  qr.addData(text, "Byte");
  qr.make();
  const count = qr.getModuleCount();
  const size = (count + margin * 2) * cell;
  const canvas = el("canvas", { class: "qr", width: size, height: size, role: "img", "aria-label": label || text });
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff"; // a QR code needs a light quiet zone, in dark mode too
  ctx.fillRect(0, 0, size, size);
  ctx.fillStyle = "#000000";
  for (let row = 0; row < count; row += 1) {
    for (let col = 0; col < count; col += 1) {
      if (qr.isDark(row, col)) ctx.fillRect((col + margin) * cell, (row + margin) * cell, cell, cell);
    }
  }
  canvas.dataset.text = text;
  return canvas;
}
