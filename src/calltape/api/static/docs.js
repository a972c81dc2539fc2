// calltape's API reference: fetch /openapi.json and list its paths, methods, parameters and schemas.
// No framework and no CDN; every text goes in with textContent, never as HTML.
"use strict";

const METHODS = ["get", "put", "post", "patch", "delete", "head", "options"];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function schemaText(schema) {
  if (!schema || Object.keys(schema).length === 0) return "any";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.anyOf) return schema.anyOf.map(schemaText).join(" | ");
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.type === "array") return schemaText(schema.items) + "[]";
  return schema.type || "object";
}

function table(headers, rows) {
  return el("table", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h))),
    ...rows.map((row) => el("tr", {}, ...row.map((cell) => el("td", {}, cell)))));
}

function parameters(path, operation) {
  const declared = (operation.parameters || []).map((p) => [
    p.name, p.in, p.required ? "yes" : "no", schemaText(p.schema), p.description || ""]);
  const names = new Set(declared.map((row) => row[0]));
  for (const match of path.matchAll(/\{([^}]+)\}/g)) {  // path parameters the app reads itself
    if (!names.has(match[1])) declared.push([match[1], "path", "yes", "string", ""]);
  }
  return declared.length ? table(["parameter", "in", "required", "type", ""], declared) : null;
}

function requestBody(operation) {
  const content = (operation.requestBody || {}).content;
  if (!content) return null;
  const rows = Object.entries(content).map(([type, body]) => [type, schemaText(body.schema)]);
  return el("div", {}, el("h4", {}, "Request body"), table(["content type", "schema"], rows));
}

function responses(operation) {
  const rows = Object.entries(operation.responses || {}).map(([status, response]) => [
    status, response.description || "", Object.keys(response.content || {}).join(", ")]);
  return rows.length ? el("div", {}, el("h4", {}, "Responses"), table(["status", "", "content type"], rows)) : null;
}

function operationBlock(path, method, operation) {
  const block = el("details", { class: "op", "data-search": (method + " " + path).toLowerCase() },
    el("summary", {}, el("span", { class: "method " + method }, method), " ", el("span", { class: "path" }, path),
      el("span", { class: "summary" }, operation.summary || "")),
    el("div", {}, operation.description ? el("p", {}, operation.description) : null,
      parameters(path, operation), requestBody(operation), responses(operation)));
  return block;
}

function schemaBlock(name, schema) {
  const required = new Set(schema.required || []);
  const rows = Object.entries(schema.properties || {}).map(([prop, spec]) => [
    prop, schemaText(spec), required.has(prop) ? "yes" : "no", spec.description || ""]);
  return el("div", { class: "schema", id: "schema-" + name }, el("h3", {}, name),
    schema.description ? el("p", {}, schema.description) : null,
    rows.length ? table(["field", "type", "required", ""], rows) : el("p", {}, schemaText(schema)));
}

function render(spec) {
  const info = spec.info || {};
  document.getElementById("title").textContent = `${info.title || "API"} ${info.version || ""} — API reference`;
  const paths = document.getElementById("paths");
  paths.append(el("h2", {}, "Paths"));
  for (const path of Object.keys(spec.paths || {}).sort()) {
    for (const method of METHODS) {
      const operation = spec.paths[path][method];
      if (operation) paths.append(operationBlock(path, method, operation));
    }
  }
  const schemas = (spec.components || {}).schemas || {};
  const section = document.getElementById("schemas");
  section.append(el("h2", {}, "Schemas"));
  for (const name of Object.keys(schemas).sort()) section.append(schemaBlock(name, schemas[name]));
  const count = document.querySelectorAll("details.op").length;
  document.getElementById("status").textContent = `${count} operations on ${Object.keys(spec.paths || {}).length} paths.`;
}

function filter(text) {
  const needle = text.trim().toLowerCase();
  for (const block of document.querySelectorAll("details.op")) {
    block.hidden = needle !== "" && !block.dataset.search.includes(needle);
  }
}

async function load() {
  const status = document.getElementById("status");
  try {
    const response = await fetch("/openapi.json");
    if (!response.ok) throw new Error(`GET /openapi.json answered ${response.status}`);
    render(await response.json());
  } catch (error) {
    status.textContent = `Could not load the API description: ${error.message}. Is calltape running?`;
    status.className = "error";
  }
  document.getElementById("filter").addEventListener("input", (event) => filter(event.target.value));
}

document.addEventListener("DOMContentLoaded", load);
