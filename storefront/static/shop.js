// Embeds the chat widget in the page's locale, with the signed-in customer's short-lived chat token.
// The language menu reloads the page in another locale; the conversation carries on (same session).
"use strict";

const TEXT = {  // the page's own words, per locale
  en: ["Thoughtful things, shipped worldwide", "Questions about an order? Ask in the chat, in your language.", "Type a message…", "Guest"],
  es: ["Cosas bien pensadas, con envío a todo el mundo", "¿Dudas con un pedido? Pregunta en el chat, en tu idioma.", "Escribe un mensaje…", "Invitado"],
  fr: ["Des objets bien pensés, livrés partout", "Une question sur une commande ? Demandez dans le chat, dans votre langue.", "Écrivez un message…", "Invité"],
  de: ["Durchdachte Dinge, weltweit geliefert", "Fragen zu einer Bestellung? Frag im Chat, in deiner Sprache.", "Nachricht schreiben…", "Gast"],
  it: ["Oggetti pensati bene, spediti ovunque", "Domande su un ordine? Chiedi in chat, nella tua lingua.", "Scrivi un messaggio…", "Ospite"],
  pt: ["Coisas bem pensadas, enviadas para o mundo todo", "Dúvidas sobre um pedido? Pergunte no chat, no seu idioma.", "Escreva uma mensagem…", "Visitante"],
  nl: ["Doordachte spullen, wereldwijd verzonden", "Vragen over een bestelling? Vraag het in de chat, in je eigen taal.", "Typ een bericht…", "Gast"],
  pl: ["Przemyślane rzeczy z wysyłką na cały świat", "Pytanie o zamówienie? Napisz na czacie, w swoim języku.", "Napisz wiadomość…", "Gość"],
  ru: ["Продуманные вещи с доставкой по всему миру", "Вопрос по заказу? Спросите в чате на своём языке.", "Напишите сообщение…", "Гость"],
  tr: ["Özenle seçilmiş ürünler, dünyanın her yerine", "Siparişinle ilgili bir sorun mu var? Sohbetten kendi dilinde sor.", "Bir mesaj yaz…", "Misafir"],
  ar: ["منتجات مدروسة، نشحنها إلى كل العالم", "عندك سؤال عن طلب؟ اسألنا في المحادثة بلغتك.", "اكتب رسالة…", "زائر"],
  ja: ["こだわりの品を、世界中へ", "ご注文についてのご質問は、チャットでお気軽にどうぞ。", "メッセージを入力…", "ゲスト"],
  ko: ["세심하게 고른 물건, 전 세계 배송", "주문 관련 문의는 채팅으로 편하게 물어보세요.", "메시지를 입력하세요…", "게스트"],
  zh: ["用心之选，发往全球", "订单有问题？在聊天窗口用你的语言问我们吧。", "输入消息…", "访客"],
};

async function start() {
  const shop = window.SHOP;
  const asked = new URLSearchParams(window.location.search).get("lang");
  const language = shop.languages.includes(asked) ? asked : "en";
  const [headline, blurb, hint, guest] = TEXT[language];
  document.documentElement.lang = language;
  document.documentElement.dir = language === "ar" ? "rtl" : "ltr";
  document.getElementById("headline").textContent = headline;
  document.getElementById("blurb").textContent = blurb;

  const names = new Intl.DisplayNames([language], {type: "language"});
  const menu = document.getElementById("language");
  for (const code of shop.languages) {
    const option = new Option(names.of(code), code, false, code === language);
    menu.append(option);
  }
  menu.addEventListener("change", () => {
    const url = new URL(window.location);
    url.searchParams.set("lang", menu.value);
    window.location = url;
  });

  const me = await (await fetch("/api/me")).json();
  if (shop.demoLogin) {
    const account = document.getElementById("account");
    account.append(new Option(guest, ""));
    const {customers} = await (await fetch("/api/demo-customers")).json();
    for (const c of customers) account.append(new Option(c.name, c.email, false, c.email === me.customer));
    account.addEventListener("change", async () => {
      const signIn = account.value
        ? fetch("/api/sign-in", {method: "POST", headers: {"Content-Type": "application/json"},
                                 body: JSON.stringify({email: account.value})})
        : fetch("/api/sign-out", {method: "POST"});
      await signIn;
      window.location.reload();
    });
    document.getElementById("account-label").hidden = false;
  }

  WebChat.default({
    selector: "#webchat",
    socketUrl: shop.rasaUrl,
    socketPath: "/socket.io/",
    customData: me.chat_token ? {language, customer_token: me.chat_token} : {language},
    initPayload: "/greet",
    title: "Northwind Goods",
    inputTextFieldHint: hint,
    params: {storage: "local"},
    showMessageDate: false,
  }, null);
}
start();
