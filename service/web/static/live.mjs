// Skip logic, live, on a questionnaire page: a question that an answer on this page leaves
// out is hidden (and its inputs disabled, so nothing of it is sent), and one that an answer
// brings in is shown. The conditions are the definition's own (data-enable-when), evaluated
// as the server evaluates them (service/domain/instruments.py: condition_holds); the server
// decides again on every save, and without this script the page works as before.

const form = document.querySelector("form[data-live]");

function valueOf(question) {
  const type = question.dataset.type;
  const inputs = [...question.querySelectorAll("input, textarea")];
  if (type === "choice" || type === "boolean") {
    const picked = inputs.find((input) => input.checked);
    if (!picked) return undefined;
    if (type === "boolean") return picked.value === "yes";
    return Number(picked.value);
  }
  if (type === "multi_choice") {
    const codes = inputs.filter((input) => input.checked).map((input) => Number(input.value));
    return codes.length ? codes : undefined;
  }
  if (type === "date") {
    const [day, month, year] = inputs.map((input) => input.value.trim());
    if (!/^\d{1,2}$/.test(day) || !/^\d{1,2}$/.test(month) || !/^\d{4}$/.test(year)) {
      return undefined;
    }
    return `${year}-${month.padStart(2, "0")}-${day.padStart(2, "0")}`;
  }
  const text = inputs.length ? inputs[0].value.trim() : "";
  if (!text) return undefined;
  if (type === "integer") return /^-?\d+$/.test(text) ? Number(text) : undefined;
  if (type === "decimal") return Number.isFinite(Number(text)) ? Number(text) : undefined;
  return text;
}

function compare(left, op, right) {
  // Python refuses to order values of different kinds; so does this.
  if (op === "==") return JSON.stringify(left) === JSON.stringify(right);
  if (op === "!=") return JSON.stringify(left) !== JSON.stringify(right);
  if (typeof left !== typeof right || typeof left === "object") return false;
  if (op === ">") return left > right;
  if (op === ">=") return left >= right;
  if (op === "<") return left < right;
  if (op === "<=") return left <= right;
  return false;
}

function holds(condition, answers) {
  if ("any" in condition) return condition.any.some((c) => holds(c, answers));
  if ("all" in condition) return condition.all.every((c) => holds(c, answers));
  if (!(condition.item in answers)) return false;
  const value = answers[condition.item];
  if (condition.op === "answered") return true;
  if (condition.op === "includes") return Array.isArray(value) && value.includes(condition.value);
  return compare(value, condition.op, condition.value);
}

function update(questions, known) {
  // Until nothing changes: showing one question may bring in (or leave out) another.
  for (let round = 0; round <= questions.length; round += 1) {
    const answers = { ...known };
    for (const question of questions) {
      const value = question.hidden ? undefined : valueOf(question);
      if (value !== undefined) answers[question.dataset.item] = value;
    }
    let changed = false;
    for (const question of questions) {
      const condition = question.dataset.enableWhen;
      const show = !condition || holds(JSON.parse(condition), answers);
      if (show === question.hidden) {
        question.hidden = !show;
        for (const input of question.querySelectorAll("input, textarea, select")) {
          input.disabled = !show;
        }
        changed = true;
      }
    }
    if (!changed) return;
  }
}

if (form) {
  const known = JSON.parse(form.dataset.known || "{}");
  const questions = [...form.querySelectorAll("[data-item]")];
  for (const question of questions.filter((q) => q.hidden)) {
    for (const input of question.querySelectorAll("input, textarea, select")) {
      input.disabled = true;
    }
  }
  update(questions, known);
  form.addEventListener("input", () => update(questions, known));
  form.addEventListener("change", () => update(questions, known));
}
