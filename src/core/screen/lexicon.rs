//! The word classes and phrase rules of the screen. A token belongs to the classes whose
//! word lists contain its normalised form (exact, or by prefix for entries ending in `*`,
//! which is how inflections and other languages' endings are caught: `ignor*` reads
//! `ignore`, `ignorez`, `ignora`, `ignoriere`). A rule is a sequence of slots matched in order
//! within one sentence, with bounded gaps between them.
use std::sync::OnceLock;

use super::FindingKind;

/// Word classes, one bit each.
pub(crate) mod class {
    /// A set of word classes.
    pub type Classes = u128;

    pub const OVERRIDE: Classes = 1 << 0;
    pub const FORGET: Classes = 1 << 1;
    pub const SCOPE: Classes = 1 << 2;
    pub const FILLER: Classes = 1 << 3;
    pub const INSTR: Classes = 1 << 4;
    pub const VOID: Classes = 1 << 5;
    pub const NOT: Classes = 1 << 6;
    pub const FOLLOW: Classes = 1 << 7;
    pub const REVEAL: Classes = 1 << 8;
    pub const REVEAL_WEAK: Classes = 1 << 9;
    pub const YOUR: Classes = 1 << 10;
    pub const QUAL: Classes = 1 << 11;
    pub const HEAD: Classes = 1 << 12;
    pub const HEAD_WEAK: Classes = 1 << 13;
    pub const SYSPROMPT: Classes = 1 << 14;
    pub const TEXT_NOUN: Classes = 1 << 15;
    pub const ABOVE: Classes = 1 << 16;
    pub const EVERYTHING: Classes = 1 << 17;
    pub const YOU: Classes = 1 << 18;
    pub const BE: Classes = 1 << 19;
    pub const PERSONA: Classes = 1 << 20;
    pub const MODE: Classes = 1 << 21;
    pub const MODE_ADJ: Classes = 1 << 22;
    pub const ENABLE: Classes = 1 << 23;
    pub const NO: Classes = 1 << 24;
    pub const RESTRICTION: Classes = 1 << 25;
    pub const UNRESTRICTED: Classes = 1 << 26;
    pub const AI: Classes = 1 << 27;
    pub const NOTE: Classes = 1 << 28;
    pub const FOR_TO: Classes = 1 << 29;
    pub const SEND: Classes = 1 << 30;
    pub const DATA: Classes = 1 << 31;
    pub const DECODE: Classes = 1 << 32;
    pub const EXECUTE: Classes = 1 << 33;
    pub const TELL: Classes = 1 << 34;
    pub const PERSON: Classes = 1 << 35;
    pub const END: Classes = 1 << 36;
    pub const INPUT: Classes = 1 << 37;
    pub const NEW: Classes = 1 << 38;
    pub const TASK: Classes = 1 << 39;
    pub const RESET: Classes = 1 << 40;
    pub const BOUND: Classes = 1 << 41;
    pub const STAY: Classes = 1 << 42;
    pub const CHARACTER: Classes = 1 << 43;
    pub const BREAK: Classes = 1 << 44;
    pub const WHEN: Classes = 1 << 45;
    pub const PROCESS: Classes = 1 << 46;
    pub const THIS: Classes = 1 << 47;
    pub const MUST: Classes = 1 << 48;
    pub const SECRET: Classes = 1 << 49;
    pub const WHAT: Classes = 1 << 50;
    pub const TOLD: Classes = 1 << 51;
    pub const PLANT: Classes = 1 << 52;
    pub const PRETEND: Classes = 1 << 53;
    pub const STARTING: Classes = 1 << 54;
    pub const VERBATIM: Classes = 1 << 55;
    pub const FREED: Classes = 1 << 56;
    pub const COMMANDS: Classes = 1 << 57;
    pub const LEAKED_DATA: Classes = 1 << 58;
    /// Not a word list: set on possessive tokens (`developer's`, `maintainers'`).
    pub const POSSESSIVE: Classes = 1 << 59;
    /// Words that introduce a quoted example (`phrases like '...'`).
    pub const MENTION: Classes = 1 << 60;
    /// Third-person and past forms: they describe (`the rogue ignores the guild's
    /// instructions`) rather than instruct, so they lose the verb classes below.
    pub const DESCRIPTIVE: Classes = 1 << 61;
    pub const USER_WORD: Classes = 1 << 64;
    /// Qualifiers that make `message` mean the system prompt.
    pub const SYSTEM_QUAL: Classes = 1 << 65;
    pub const REFUSE: Classes = 1 << 66;
    /// Not a word list: every literal word a rule names, so that a token in no class is
    /// known to matter to no rule.
    pub const KEYWORD: Classes = 1 << 67;
    /// `message` needs a system-like qualifier to mean the prompt (`hidden message` is a
    /// puzzle, `system message` is not).
    pub const MESSAGE: Classes = 1 << 62;
    /// Words that make "your instructions" task instructions (`your instructions for X`).
    pub const COMPLEMENT: Classes = 1 << 63;
}

use class::*;

/// Word lists per class (normalised spelling: lowercase, no diacritics, no apostrophes).
const LEXICON: &[(Classes, &str)] = &[
    (
        OVERRIDE,
        "ignor* disregard* overrid* overwrit* bypass* circumvent* discard* neglect* \
        dismiss* cancel revoke nullify annul negeer* zignor* игнор* проигнор* تجاهل* omets \
        omettez",
    ),
    (
        FORGET,
        "forget oublie oubliez oublier olvida olvide olvidad olvidate dimentica \
        dimenticate esqueca esquece esquecer vergiss vergessen vergeet забудь забудьте \
        zapomnij unut unutun",
    ),
    (
        SCOPE,
        "previous previously prior above earlier preceding former original initial old \
        existing current aforementioned foregoing preset predefined preexisting system systems \
        developer developers precedent* anterior* vorherig* bisherig* obig* fruher* vorige \
        eerdere eerder предыдущ* прошл* прежн* poprzedni* wczesniejsz* onceki السابقة \
        ci-dessus",
    ),
    (
        FILLER,
        "the a an all any every each of your you yours these those that this such other \
        and or so far have has had been were was be received got given told provided set \
        youve youre its their them us just now entire whole full complete rest remaining \
        safety content contents text exact me us about moral ethical longer language large \
        user \
        users de do du del des \
        les toutes tous toute tout tes vos votre ton ta la le l el los las todas todos todo \
        tus tu su sus alle allen aller alles deine deinen deiner dein ihre ihren die der den \
        das dem tutte tutti tutto gli tue tuoi i as os o seu sua suas seus je jouw uw \
        все всё свои твои ваши wszystkie swoje twoje tum butun جميع",
    ),
    (
        INSTR,
        "instruc* istruz* directive* directiv* direction directions rule rules ruleset \
        regel* regle* regla* regole guideline* guidance prompt prompts command commands \
        constraint* guardrail* programming policies policy training context consigne* \
        anweisung* befehl* vorgabe* richtlinie* indicazion* normas instrukc* инструкц* \
        указани* правил* talimat* التعليمات تعليمات polecen* directriz directrices \
        systemprompt* sysprompt",
    ),
    (
        VOID,
        "cancel* void voided null* obsolete revok* invalid* overridden supersede* lifted \
        suspended disabled removed deprecated expired annul* aufgehoben ungultig nichtig \
        rescinded withdrawn replaced ignored disregarded discarded forgotten dismissed \
        bypassed",
    ),
    (
        DESCRIPTIVE,
        "ignores ignored disregards disregarded overrides overrode overridden \
        bypasses bypassed circumvents circumvented discards discarded neglects neglected \
        dismisses dismissed forgets forgot forgotten cancels cancelled canceled revokes \
        revoked",
    ),
    (NOT, "not dont never stop cease quit doesnt didnt nicht"),
    (
        FOLLOW,
        "follow following obey obeying adhere comply abide heed befolge befolgen \
        suivre seguir sigue segui folge",
    ),
    (
        REVEAL,
        "reveal show print output display repeat dump leak disclose expose recite echo \
        tell share give list paste copy spell type provide reproduce regurgitate revel* \
        montre* affiche* donne* muestr* dime ensena* mostra* rivela* dimmi zeig* gib nenn* \
        verrat* toon vertel geef покажи* выведи* раскрой* скажи* goster* pokaz* podaj \
        ujawnij اكشف واكشف اعرض",
    ),
    (
        REVEAL_WEAK,
        "summarize summarise describe explain paraphrase translate",
    ),
    (
        YOUR,
        "your ton ta tes votre vos tu tus dein* ihr tuo tua tuoi tue seu sua seus suas \
        je jouw uw твой твои твоя свой свои ваш* twoj* swoj*",
    ),
    (
        QUAL,
        "system initial hidden secret original developer confidential internal \
        underlying preprompt meta core sistema systeme sistem systemow* системн* скрыт* \
        секретн* ocult* secret* versteckt* geheim* ursprunglich* cache cachee* nascost* \
        segret* iniziali iniciales initiales originales real actual النظام",
    ),
    (
        HEAD,
        "prompt prompts instruc* istruz* directive* preamble programming промпт* \
        инструкц* istem* موجه polecen* instrukc* anweisung* consigne* talimat*",
    ),
    (REFUSE, "refuse refusing decline declining"),
    (
        SYSTEM_QUAL,
        "system developer sistema systeme sistem systemow* системн* النظام",
    ),
    (
        MESSAGE,
        "message messages mensaje mensagem messaggio nachricht сообщение",
    ),
    (COMPLEMENT, "for to on about regarding how"),
    (
        HEAD_WEAK,
        "rules guidelines configuration config policies context regeln reglas \
        regles regole правила",
    ),
    (
        SYSPROMPT,
        "systemprompt* systemmessage* systemnachricht* systeminstruction* \
        sysprompt* systemanweisung*",
    ),
    (
        TEXT_NOUN,
        "words text everything all content contents lines line",
    ),
    (
        ABOVE,
        "above before previous preceding earlier previously prior hitherto vorher zuvor oben \
        avant antes arriba prima sopra acima ранее раньше выше wczesniej",
    ),
    (
        EVERYTHING,
        "everything anything all alles tout todo tutto tudo всё все wszystko",
    ),
    (YOU, "you u tu du vous ты вы youre youll"),
    (BE, "are will re is be now youre youll going"),
    (
        PERSONA,
        "dan stan dude aim betterdan antidan devmode evilbot",
    ),
    (MODE, "mode modus modo режим"),
    (
        MODE_ADJ,
        "developer dev god jailbreak* jailbroken sudo dan unrestricted unfiltered \
        uncensored evil chaos opposite entwickler* desarrollador developpeur sviluppatore",
    ),
    (
        ENABLE,
        "enable* activat* enter entering switch* turn engage* unlock* activa* \
        aktivier* attiva* active activez",
    ),
    (
        NO,
        "no without zero free sans sin ohne senza sem без bez none",
    ),
    (
        RESTRICTION,
        "restriction* rule rules limit limits limitation* filter* guideline* polic* \
        boundar* censor* safeguard* guardrail* morals ethics constraint* training \
        restricciones \
        limites limiti regeln grenzen ограничен* правил* taboos",
    ),
    (
        UNRESTRICTED,
        "unrestricted unfiltered uncensored amoral unbound unchained unrestrained \
        unshackled",
    ),
    (
        AI,
        "ai assistant assistants model models llm llms chatbot chatbots bot bots agent \
        agents copilot chatgpt claude gemini gpt ia ki ии",
    ),
    (
        NOTE,
        "note notes message instruc* attention important reminder nb notice memo",
    ),
    (FOR_TO, "for to pour para fur per"),
    (
        SEND,
        "forward* send sends email mail post upload* transmit* exfiltrat* envoie* \
        envia* sende* invia*",
    ),
    (
        DATA,
        "emails inbox conversation* transcript* history chat chats contacts contact \
        messages credentials password* cookie* secrets documents files",
    ),
    (
        DECODE,
        "decode* decipher* decrypt* rot13 base64 reverse* backward* backwards \
        unscramble* dekodier* decodifica* decodez",
    ),
    (EXECUTE, "follow execute* obey* run perform* comply act"),
    (
        TELL,
        "tell mention* reveal* inform* notify* disclose* alert* let warn* show",
    ),
    (PERSON, "user users anyone anybody them him her human owner"),
    (
        USER_WORD,
        "user users human humans utilisateur usuario benutzer nutzer utente \
        пользовател*",
    ),
    (END, "end ends ended fin ende"),
    (
        INPUT,
        "user input document prompt context text conversation data message transcript \
        file",
    ),
    (
        NEW,
        "new updated revised real actual true nouvelle* nouveau* nueva* nuevo* neue* nuov* \
        nova* novo* новые новая",
    ),
    (
        TASK,
        "task objective goal mission purpose directive* priority role instruc* rules \
        policy orders aufgabe tache tarea compito",
    ),
    (RESET, "reset* clear erase* wipe* purge"),
    (
        BOUND,
        "bound restricted limited constrained subject beholden obliged obligated \
        required tied governed",
    ),
    (STAY, "stay staying remain keep"),
    (CHARACTER, "character persona role"),
    (BREAK, "break breaking drop leave"),
    (WHEN, "when whenever while before after once"),
    (
        PROCESS,
        "read reading summariz* summaris* process* pars* analyz* analys* review* \
        scan* crawl* index* see sees encounter* ingest* access*",
    ),
    (
        THIS,
        "this these it page document email text message file repository website site \
        content",
    ),
    (MUST, "must should shall need needs"),
    (
        SECRET,
        "password* passwd credential* secrets apikey token wachtwoord haslo contrasena \
        пароль passwort sifre",
    ),
    (WHAT, "what quel* que cual was что jaki* qual"),
    (
        TOLD,
        "told instructed programmed given trained provided configured asked prompted \
        designed received",
    ),
    (
        PLANT,
        "append* replace* fill insert* include add encode* embed* render* attach* \
        concatenat* followed",
    ),
    (
        PRETEND,
        "pretend* roleplay* imagine act play simulate behave impersonat* answer \
        respond reply",
    ),
    (STARTING, "starting start begin beginning"),
    (VERBATIM, "verbatim wordforword"),
    (FREED, "freed liberated released unshackled broke broken"),
    (
        COMMANDS,
        "request requests command commands order orders question questions",
    ),
    (
        MENTION,
        "like as eg phrase phrases prompts string strings term terms example examples \
        called",
    ),
    (
        LEAKED_DATA,
        "conversation* chat history summary transcript* messages message email \
        emails password* key keys token* secret* prompt cookie* result data session",
    ),
];

/// The word lists as a byte trie: one walk per token finds its exact classes (at the node
/// where the word ends) and its prefix classes (at every stem end on the way), and a word
/// that is in no list leaves after a byte or two.
struct Lexicon {
    nodes: Vec<Node>,
    /// The root's children by byte: the first step, taken for every token, is one load.
    root: [u32; 256],
}

#[derive(Default)]
struct Node {
    /// Sorted by byte.
    children: Vec<(u8, u32)>,
    exact: Classes,
    prefix: Classes,
}

impl Lexicon {
    fn child(&self, node: usize, byte: u8) -> Option<usize> {
        if node == 0 {
            return Some(self.root[byte as usize] as usize).filter(|&n| n != 0);
        }
        let children = &self.nodes[node].children;
        children
            .binary_search_by_key(&byte, |&(b, _)| b)
            .ok()
            .map(|i| children[i].1 as usize)
    }

    fn insert(&mut self, word: &str) -> usize {
        let mut node = 0;
        for &byte in word.as_bytes() {
            node = match self.child(node, byte) {
                Some(next) => next,
                None => {
                    let next = self.nodes.len();
                    self.nodes.push(Node::default());
                    if node == 0 {
                        self.root[byte as usize] = next as u32;
                    } else {
                        let children = &mut self.nodes[node].children;
                        let at = children.partition_point(|&(b, _)| b < byte);
                        children.insert(at, (byte, next as u32));
                    }
                    next
                }
            };
        }
        node
    }
}

fn lexicon() -> &'static Lexicon {
    static LEXICON_TRIE: OnceLock<Lexicon> = OnceLock::new();
    LEXICON_TRIE.get_or_init(|| {
        let mut lex = Lexicon {
            nodes: vec![Node::default()],
            root: [0; 256],
        };
        for rule in RULES {
            for slot in rule.slots {
                if let Slot::Word(word) = *slot {
                    let node = match word.strip_suffix('*') {
                        Some(stem) => lex.insert(stem),
                        None => lex.insert(word),
                    };
                    if word.ends_with('*') {
                        lex.nodes[node].prefix |= KEYWORD;
                    } else {
                        lex.nodes[node].exact |= KEYWORD;
                    }
                }
            }
        }
        for &(bits, words) in LEXICON {
            for word in words.split_whitespace() {
                match word.strip_suffix('*') {
                    Some(stem) => {
                        let node = lex.insert(stem);
                        lex.nodes[node].prefix |= bits;
                    }
                    None => {
                        let node = lex.insert(word);
                        lex.nodes[node].exact |= bits;
                    }
                }
            }
        }
        lex
    })
}

/// The classes of one normalised word.
pub(crate) fn classify(form: &str) -> Classes {
    let mut bits = classify_bytes(form.bytes());
    // Jailbreak personas are often `<Something>GPT` (FreedomGPT, BasedGPT).
    if form.len() > 5 && form.ends_with("gpt") && form != "chatgpt" {
        bits |= PERSONA;
    }
    bits
}

/// The classes of a word given byte by byte (a transformed reading needs no allocation).
pub(crate) fn classify_bytes(bytes: impl Iterator<Item = u8>) -> Classes {
    let lex = lexicon();
    let mut bits: Classes = 0;
    let mut node = 0;
    let mut complete = true;
    for byte in bytes {
        match lex.child(node, byte) {
            Some(next) => {
                node = next;
                bits |= lex.nodes[node].prefix;
            }
            None => {
                complete = false;
                break;
            }
        }
    }
    if complete {
        bits |= lex.nodes[node].exact;
    }
    if bits & DESCRIPTIVE != 0 {
        bits &= !(OVERRIDE | FORGET | FOLLOW);
    }
    bits
}

/// One step of a rule.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Slot {
    /// A token in any of these classes.
    Class(Classes),
    /// A token with exactly this form (or this prefix, when it ends in `*`).
    Word(&'static str),
    /// Up to n tokens that are filler or scope words ("all of the previous").
    Gap(u8),
    /// Up to n arbitrary tokens.
    Any(u8),
    /// The previous token is followed by a colon (`SYSTEM OVERRIDE:`).
    Colon,
    /// The next token, if in the same sentence, is in none of these classes (consumes
    /// nothing): `your instructions` but not `your instructions for the cake`.
    NotNext(Classes),
    /// The match ends its sentence (`Disregard previous.`).
    SentenceEnd,
}

#[derive(Debug)]
pub(crate) struct Rule {
    pub id: &'static str,
    pub kind: FindingKind,
    pub weight: f64,
    pub slots: &'static [Slot],
    /// Counts only when the text also holds a URL with a query string.
    pub needs_url_query: bool,
}

use FindingKind as K;
use Slot::{Any, Class as C, Colon, Gap, NotNext, SentenceEnd, Word as W};

const fn rule(id: &'static str, kind: FindingKind, weight: f64, slots: &'static [Slot]) -> Rule {
    Rule {
        id,
        kind,
        weight,
        slots,
        needs_url_query: false,
    }
}

pub(crate) const RULES: &[Rule] = &[
    // Overriding earlier instructions.
    rule(
        "override-prior-instructions",
        K::InstructionOverride,
        0.75,
        &[C(OVERRIDE | FORGET), Gap(4), C(SCOPE), Gap(3), C(INSTR)],
    ),
    rule(
        "override-instructions-prior",
        K::InstructionOverride,
        0.75,
        &[C(OVERRIDE | FORGET), Gap(3), C(INSTR), Gap(1), C(SCOPE)],
    ),
    rule(
        "override-instructions",
        K::InstructionOverride,
        0.55,
        &[C(OVERRIDE | FORGET), Gap(3), C(INSTR)],
    ),
    rule(
        "override-someones-instructions",
        K::InstructionOverride,
        0.6,
        &[
            C(OVERRIDE | FORGET),
            Gap(2),
            C(POSSESSIVE),
            Gap(1),
            C(INSTR),
        ],
    ),
    rule(
        "override-the-above",
        K::InstructionOverride,
        0.55,
        &[C(OVERRIDE | FORGET), Gap(2), W("above")],
    ),
    rule(
        "override-previous",
        K::InstructionOverride,
        0.55,
        &[C(OVERRIDE | FORGET), Gap(1), C(ABOVE), SentenceEnd],
    ),
    rule(
        "override-the-user",
        K::InstructionOverride,
        0.45,
        &[C(OVERRIDE), Gap(1), C(USER_WORD)],
    ),
    rule(
        "override-restrictions",
        K::InstructionOverride,
        0.45,
        &[C(OVERRIDE), Gap(3), C(RESTRICTION)],
    ),
    rule(
        "your-instructions-void",
        K::InstructionOverride,
        0.55,
        &[C(YOUR), Gap(2), C(INSTR), Any(6), C(VOID)],
    ),
    rule(
        "prior-instructions-void",
        K::InstructionOverride,
        0.4,
        &[C(SCOPE), Gap(2), C(INSTR), Any(6), C(VOID)],
    ),
    rule(
        "instructions-no-longer-apply",
        K::InstructionOverride,
        0.55,
        &[C(INSTR), Any(4), W("no"), W("longer"), W("appl*")],
    ),
    rule(
        "do-not-follow-instructions",
        K::InstructionOverride,
        0.6,
        &[C(NOT), Gap(2), C(FOLLOW), Gap(4), C(INSTR)],
    ),
    rule(
        "forget-everything-before",
        K::InstructionOverride,
        0.6,
        &[C(FORGET), Gap(1), C(EVERYTHING), Any(5), C(ABOVE | TOLD)],
    ),
    rule(
        "pay-no-attention",
        K::InstructionOverride,
        0.65,
        &[W("pay"), W("no"), W("attention"), W("to"), Gap(4), C(INSTR)],
    ),
    rule(
        "instructions-ignore-sov",
        K::InstructionOverride,
        0.6,
        &[C(INSTR), Gap(1), W("yok"), W("say*")],
    ),
    rule(
        "new-instructions",
        K::InstructionOverride,
        0.3,
        &[C(NEW), Gap(2), C(TASK)],
    ),
    rule(
        "reset-instructions",
        K::InstructionOverride,
        0.45,
        &[C(RESET), Gap(3), C(INSTR)],
    ),
    rule(
        "reset-your-instructions",
        K::InstructionOverride,
        0.55,
        &[C(RESET), C(YOUR), Gap(2), C(INSTR)],
    ),
    // Asking for the system prompt or other hidden context.
    rule(
        "reveal-system-prompt",
        K::PromptLeak,
        0.6,
        &[C(REVEAL), Gap(5), C(QUAL), Gap(1), C(HEAD | HEAD_WEAK)],
    ),
    rule(
        "reveal-system-prompt-compound",
        K::PromptLeak,
        0.6,
        &[C(REVEAL), Gap(5), C(SYSPROMPT)],
    ),
    rule(
        "reveal-system-message",
        K::PromptLeak,
        0.6,
        &[C(REVEAL), Gap(5), C(SYSTEM_QUAL), C(MESSAGE)],
    ),
    rule(
        "reveal-message-of-system",
        K::PromptLeak,
        0.55,
        &[C(REVEAL), Gap(4), C(MESSAGE), Gap(2), C(SYSTEM_QUAL)],
    ),
    rule(
        "reveal-prompt-of-system",
        K::PromptLeak,
        0.55,
        &[C(REVEAL), Gap(4), C(HEAD), Gap(2), C(QUAL)],
    ),
    rule(
        "reveal-your-instructions",
        K::PromptLeak,
        0.55,
        &[
            C(REVEAL | REVEAL_WEAK),
            Gap(4),
            C(YOUR),
            Any(3),
            C(HEAD | SYSPROMPT),
            NotNext(COMPLEMENT),
        ],
    ),
    rule(
        "reveal-your-rules",
        K::PromptLeak,
        0.35,
        &[C(REVEAL), Gap(4), C(YOUR), Gap(2), C(HEAD_WEAK)],
    ),
    rule(
        "what-is-your-prompt",
        K::PromptLeak,
        0.5,
        &[
            C(WHAT),
            Gap(1),
            C(BE),
            C(YOUR),
            Any(2),
            C(HEAD | SYSPROMPT),
            NotNext(COMPLEMENT),
        ],
    ),
    rule(
        "repeat-text-above",
        K::PromptLeak,
        0.45,
        &[
            C(REVEAL),
            Gap(2),
            C(TEXT_NOUN | EVERYTHING),
            Gap(1),
            C(ABOVE),
        ],
    ),
    rule(
        "what-were-you-told",
        K::PromptLeak,
        0.35,
        &[C(WHAT), Any(2), C(YOU), Gap(1), C(TOLD)],
    ),
    rule(
        "prompt-you-were-given",
        K::PromptLeak,
        0.5,
        &[C(HEAD), C(YOU), Gap(2), C(TOLD)],
    ),
    rule(
        "starting-with-you-are",
        K::PromptLeak,
        0.4,
        &[C(STARTING), Gap(2), W("with"), Any(2), C(YOU), C(BE)],
    ),
    rule(
        "your-system-prompt",
        K::PromptLeak,
        0.3,
        &[C(YOUR), Gap(2), C(QUAL), C(HEAD | HEAD_WEAK)],
    ),
    rule(
        "your-system-prompt-compound",
        K::PromptLeak,
        0.3,
        &[C(YOUR), Gap(2), C(SYSPROMPT)],
    ),
    rule(
        "your-system-message",
        K::PromptLeak,
        0.3,
        &[C(YOUR), Gap(2), C(SYSTEM_QUAL), C(MESSAGE)],
    ),
    rule(
        "mentions-system-prompt",
        K::PromptLeak,
        0.15,
        &[W("system"), C(HEAD | MESSAGE)],
    ),
    rule("verbatim", K::PromptLeak, 0.2, &[C(VERBATIM)]),
    rule(
        "word-for-word",
        K::PromptLeak,
        0.2,
        &[W("word"), W("for"), W("word")],
    ),
    rule(
        "secret-request",
        K::PromptLeak,
        0.25,
        &[C(REVEAL | WHAT), Gap(4), C(SECRET)],
    ),
    // Jailbreak personas and modes.
    rule(
        "do-anything-now",
        K::Jailbreak,
        0.7,
        &[W("do"), W("anything"), W("now")],
    ),
    rule(
        "do-anything-now-compound",
        K::Jailbreak,
        0.7,
        &[W("doanythingnow")],
    ),
    rule(
        "you-are-persona",
        K::Jailbreak,
        0.55,
        &[C(YOU), Gap(2), C(BE | PRETEND), Any(5), C(PERSONA)],
    ),
    rule(
        "act-as-persona",
        K::Jailbreak,
        0.5,
        &[C(PRETEND), Gap(3), C(PERSONA)],
    ),
    rule("as-persona", K::Jailbreak, 0.35, &[W("as"), C(PERSONA)]),
    rule(
        "enable-mode",
        K::Jailbreak,
        0.65,
        &[C(ENABLE), Gap(3), C(MODE_ADJ), C(MODE)],
    ),
    rule(
        "mode-enabled",
        K::Jailbreak,
        0.6,
        &[C(MODE_ADJ), C(MODE), Gap(1), C(ENABLE)],
    ),
    rule(
        "in-mode",
        K::Jailbreak,
        0.45,
        &[W("in"), Gap(1), C(MODE_ADJ), C(MODE)],
    ),
    rule(
        "model-now-in-mode",
        K::Jailbreak,
        0.4,
        &[C(AI | YOU), Any(2), W("in"), Any(2), C(MODE)],
    ),
    rule("special-mode", K::Jailbreak, 0.3, &[C(MODE_ADJ), C(MODE)]),
    rule(
        "no-restrictions",
        K::Jailbreak,
        0.4,
        &[C(NO), Any(3), C(RESTRICTION)],
    ),
    rule(
        "unrestricted-ai",
        K::Jailbreak,
        0.5,
        &[C(UNRESTRICTED), Gap(2), C(AI)],
    ),
    rule("unrestricted", K::Jailbreak, 0.2, &[C(UNRESTRICTED)]),
    rule(
        "not-bound-by-rules",
        K::Jailbreak,
        0.5,
        &[
            C(NOT | NO),
            Gap(2),
            C(BOUND),
            Any(4),
            C(INSTR | RESTRICTION),
        ],
    ),
    rule(
        "freed-from-rules",
        K::Jailbreak,
        0.5,
        &[C(FREED), Any(4), C(INSTR | RESTRICTION)],
    ),
    rule(
        "stay-in-character",
        K::Jailbreak,
        0.35,
        &[C(STAY | PRETEND), Gap(1), W("in"), C(CHARACTER)],
    ),
    rule(
        "never-break-character",
        K::Jailbreak,
        0.35,
        &[C(NOT), Gap(1), C(BREAK), Gap(1), C(CHARACTER)],
    ),
    rule(
        "from-now-on",
        K::Jailbreak,
        0.15,
        &[W("from"), W("now"), W("on")],
    ),
    rule(
        "never-refuse",
        K::Jailbreak,
        0.35,
        &[C(NOT | NO), Gap(2), C(REFUSE)],
    ),
    rule(
        "comply-with-everything",
        K::Jailbreak,
        0.3,
        &[C(FOLLOW), Gap(2), C(EVERYTHING), Gap(1), C(COMMANDS)],
    ),
    // Text addressed to the model from inside content (indirect injection).
    rule(
        "note-to-ai",
        K::EmbeddedInstruction,
        0.4,
        &[C(NOTE), Gap(2), C(FOR_TO), Gap(2), C(AI)],
    ),
    rule(
        "if-you-are-an-ai",
        K::EmbeddedInstruction,
        0.45,
        &[W("if"), C(YOU), Any(2), C(AI)],
    ),
    rule(
        "when-processing-this",
        K::EmbeddedInstruction,
        0.3,
        &[C(WHEN), Gap(2), C(PROCESS), Gap(2), C(THIS)],
    ),
    rule(
        "ai-processing-this",
        K::EmbeddedInstruction,
        0.35,
        &[C(AI), Gap(1), C(PROCESS), Gap(1), C(THIS)],
    ),
    rule(
        "ai-must",
        K::EmbeddedInstruction,
        0.25,
        &[C(AI), Any(3), C(MUST)],
    ),
    rule(
        "conceal-from-user",
        K::EmbeddedInstruction,
        0.35,
        &[C(NOT), Gap(1), C(TELL), Gap(3), C(PERSON | THIS)],
    ),
    rule(
        "without-asking",
        K::EmbeddedInstruction,
        0.2,
        &[W("without"), W("ask*")],
    ),
    rule(
        "end-of-input",
        K::RoleSpoofing,
        0.35,
        &[C(END), W("of"), Gap(1), C(INPUT)],
    ),
    rule(
        "input-ends-here",
        K::RoleSpoofing,
        0.35,
        &[C(INPUT), Gap(1), C(END), W("here")],
    ),
    rule(
        "system-label",
        K::RoleSpoofing,
        0.5,
        &[W("system"), C(OVERRIDE | TASK | NOTE), Colon],
    ),
    // Sending conversation data somewhere.
    rule(
        "send-data",
        K::Exfiltration,
        0.4,
        &[C(SEND), Gap(5), C(DATA)],
    ),
    Rule {
        id: "plant-data-in-url",
        kind: K::Exfiltration,
        weight: 0.35,
        slots: &[C(PLANT), Any(6), C(LEAKED_DATA)],
        needs_url_query: true,
    },
    // Instructions to decode and obey.
    rule(
        "decode-and-follow",
        K::EncodedPayload,
        0.45,
        &[C(DECODE), Any(8), C(EXECUTE)],
    ),
    rule(
        "do-what-it-says",
        K::EncodedPayload,
        0.3,
        &[W("do"), W("what"), W("it"), W("says")],
    ),
];

/// Tokens a `Gap` may skip.
pub(crate) const GAP_CLASSES: Classes = FILLER | SCOPE;

/// Address terms that mark text written to the model (`AI assistant:`).
pub(crate) const ADDRESSEE: Classes = AI;
