// Console helpers: served locally, loaded as a file (the CSP allows no inline script).
// Choosing a canned answer fills the answer box; without JavaScript the server
// uses the chosen template when the box is left empty.
document.addEventListener("change", (event) => {
  const select = event.target.closest("select.answer-template");
  if (!select) return;
  const option = select.selectedOptions[0];
  const target = document.getElementById(select.dataset.target);
  if (target && option && option.dataset.text) target.value = option.dataset.text;
});
