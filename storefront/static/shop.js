// Embeds the chat widget with the page's locale; the language menu reloads the page in another one.
"use strict";
const shop = window.SHOP;
const asked = new URLSearchParams(window.location.search).get("lang");
shop.language = shop.languages.includes(asked) ? asked : "en";
document.documentElement.lang = shop.language;
document.documentElement.dir = shop.language === "ar" ? "rtl" : "ltr";
const names = new Intl.DisplayNames([shop.language], {type: "language"});
const menu = document.getElementById("language");
for (const code of shop.languages) {
  const option = document.createElement("option");
  option.value = code;
  option.textContent = names.of(code);
  option.selected = code === shop.language;
  menu.append(option);
}
menu.addEventListener("change", () => {
  const url = new URL(window.location);
  url.searchParams.set("lang", menu.value);
  window.location = url;
});
WebChat.default({
  selector: "#webchat",
  socketUrl: shop.rasaUrl,
  socketPath: "/socket.io/",
  customData: {language: shop.language},
  initPayload: "/greet",
  title: "Northwind Goods",
  params: {storage: "local"},
  showMessageDate: false,
  embedded: false,
}, null);
