"""The model's words: attribute concepts, their synonyms, antonyms and the other end of each slider.

Everything here belongs to what a model can edit (its attribute names and the ways people name
them); the English grammar around them (cues, adverbs, negations, fillers) is in ``words_en.py``
and text normalisation in ``normalise.py``. Both are re-exported here, so ``vocabulary.X`` keeps
working for the older callers.

* A *concept* is a face property with a canonical chat name ("smile", "eyeglasses", "old", "thin").
  ``CONCEPTS`` lists its synonyms. Some concepts are only ever reached through ``FALLBACKS``
  ("old" → young with sign −1 when the model has no "old" attribute, "thin" → chubby −1).
* An *attribute* is a name from an interpreter's list. ``concept_of`` maps any attribute name
  (chat name, CelebA name such as ``No_Beard``, or a custom mapper name) to ``(concept, sign)``.
* Matching works on normalised tokens (lower case, NFKC, "n't" → " not", grey → gray) compared by
  a light stem (a final "s" dropped), so plurals, case, underscores, hyphens and spacing agree.
"""

from __future__ import annotations

from functools import lru_cache

from chatface_widgets.chat.normalise import MAX_CHARS, normalise, stem, tokenize  # noqa: F401
from chatface_widgets.chat.words_en import *  # noqa: F401,F403  (grammar words, re-exported)

# --- attribute concepts --------------------------------------------------------------------------

CONCEPTS: dict[str, tuple[str, ...]] = {
    "smile": ("smile", "smiling", "smiley", "grin", "grinning", "happy", "happier", "cheerful",
              "beam", "beams", "chuckle", "chuckling", "giggle", "giggling", "laughs", "grins",
              "laugh", "laughing", "beaming", "joyful", "toothy grin", "smirk", "smirking",
              "friendlier", "friendly", "cheery", "glad", "cheer up", "cheer him up",
              "cheer her up", "cheerier", "look happy", "jolly", "delighted", "amused"),
    "frown": ("frown", "frowning", "serious", "stern", "grumpy", "angry", "straight face",
              "poker face", "solemn", "scowl", "scowling", "moody", "mad", "sulky", "stop grinning",
              "stop smiling", "severe", "strict", "grim"),
    # Sadness is its own concept: a model with a "sad" slider gets it; otherwise less smile.
    "sad": ("sad", "sadder", "unhappy", "gloomy", "upset", "depressed", "miserable", "glum",
            "sorrowful", "melancholy", "tearful", "down in the dumps"),
    "eyeglasses": ("eyeglasses", "eye glasses", "glasses", "specs", "spectacles", "shades",
                   "sunglasses", "sun glasses", "eyewear", "reading glasses", "frames", "goggles",
                   "glass", "bifocals", "monocle"),
    "bangs": ("bangs", "fringe", "bang", "forelock", "fringes"),
    "blond hair": ("blond hair", "blonde hair", "blond", "blonde", "fair hair", "golden hair",
                   "platinum hair", "bleached hair", "yellow hair", "blondie", "blonder",
                   "blonder hair", "platinum blond", "golden blond", "lighter hair", "bleach hair",
                   "bleached", "bleach",
                   "lighten hair", "lighten the hair"),
    "black hair": ("black hair", "dark hair", "raven hair", "jet black hair", "darker hair",
                   "black haired", "dark haired", "blacker hair", "jet black",
                   "darken hair", "darken the hair"),
    "brown hair": ("brown hair", "brunette", "brunet", "chestnut hair", "brown haired",
                   "browner hair", "brunette hair"),
    "gray hair": ("gray hair", "silver hair", "white hair", "grayer hair", "graying hair",
                  "gray haired", "salt and pepper hair", "silver haired", "white haired", "gray",
                  "graying", "grayer", "whiter hair", "salt and pepper", "silver fox"),
    "wavy hair": ("wavy hair", "waves", "wavy", "wavier hair", "beach waves", "wavier",
                  "wavy haired"),
    "curly hair": ("curly hair", "curls", "curly", "curlier hair", "curlier", "ringlets", "afro",
                   "frizzy hair", "curl", "curly haired", "perm", "permed hair", "frizzy"),
    "straight hair": ("straight hair", "straighter hair", "sleek hair", "straightened hair",
                      "straight haired", "straighten hair", "straighten the hair",
                      "straighten his hair", "straighten her hair", "straighter",
                      "straighten", "straightened", "straighten it"),
    "bald": ("bald", "balding", "bald head", "shaved head", "hairless", "baldness", "no hair",
             "shave his head", "shave her head", "shave the head", "shaved", "bald spot",
             "balder", "shave head", "cue ball", "without hair"),
    "full hair": ("full head of hair", "more hair", "thick hair", "regrow hair", "hair back",
                  "thicker hair", "hairier"),
    "receding hairline": ("receding hairline", "receding hair", "hairline", "widow s peak",
                          "high forehead", "receding", "higher hairline", "thinning hair"),
    "beard": ("beard", "bearded", "full beard", "facial hair", "bushy beard", "hair on his face",
              "hair on her face", "face hair", "hair on the face", "whiskers"),
    "mustache": ("mustache", "moustache", "stache", "handlebar mustache", "mustached",
                 "handlebar", "tache", "mustachio"),
    "goatee": ("goatee", "chin beard", "soul patch", "van dyke"),
    "sideburns": ("sideburns", "sideburn", "side burns", "mutton chops", "muttonchops"),
    "5 o'clock shadow": ("5 o clock shadow", "five o clock shadow", "5 oclock shadow",
                         "five oclock shadow", "stubble", "stubbly", "scruff", "scruffy",
                         "unshaven", "light stubble", "designer stubble", "o clock shadow"),
    "lipstick": ("lipstick", "lip stick", "lip color", "lip gloss", "lipgloss", "lip tint",
                 "lip colour", "painted lips"),
    "red lipstick": ("red lipstick", "red lips", "scarlet lips", "red lip", "redder lips",
                     "crimson lips", "ruby lips", "cherry lips", "red lip color"),
    "makeup": ("makeup", "make up", "cosmetics", "made up", "mascara", "eyeliner",
               "eye shadow", "eyeshadow", "glam", "glamorous", "foundation", "war paint",
               "glam up", "dolled up", "doll her up"),
    "young": ("young", "younger", "youthful", "youth", "kid", "teen", "teenager", "teenage",
              "baby face", "boyish", "girlish", "rejuvenate", "de age", "deage", "young man",
              "young woman", "young lady", "young person", "younger looking", "juvenile",
              "child", "childlike", "adolescent", "fresh faced", "young girl", "young boy",
              "little girl", "little boy", "youngster", "baby faced", "younger version",
              "younger again"),
    "old": ("old", "older", "elderly", "aged", "aging", "ageing", "senior", "wrinkled", "wrinkles",
            "wrinkly", "grandpa", "grandma", "grandfather", "grandmother", "old man", "old woman",
            "old lady", "old person", "elder", "age", "granny", "geriatric", "oldie", "pensioner",
            "older man", "older woman", "elderly man", "elderly woman", "older version", "aged up",
            "middle aged", "mature"),
    "male": ("male", "man", "masculine", "manly", "guy", "boy", "gentleman", "dude", "macho",
             "manlier", "masculinity", "men", "husband", "father", "dad",
             "masculinize", "masculinise", "masculine features", "manly features"),
    "female": ("female", "woman", "feminine", "girl", "lady", "girly", "womanly", "ladylike",
               "women", "femininity", "wife", "mother", "mom", "gal",
               "feminize", "feminise", "feminine features"),
    "pale skin": ("pale skin", "pale", "paler", "fair skin", "lighter skin", "light skin",
                  "porcelain skin", "porcelain complexion", "porcelain", "pallid", "pasty", "paler skin", "pale complexion",
                  "fair complexion", "pale faced", "ghostly", "fairer skin", "whiter skin",
                  "lighten skin", "whiten skin", "lighter complexion"),
    "dark skin": ("dark skin", "darker skin", "tan", "tanned", "tanning", "suntan", "sun tan",
                  "bronze skin", "tan skin", "tanned skin", "bronzed", "sun kissed", "darker complexion",
                  "dark complexion", "tanner", "darken skin", "bronze"),
    "rosy cheeks": ("rosy cheeks", "rosy", "blush", "blushing", "flushed cheeks", "red cheeks",
                    "pink cheeks", "flushed", "ruddy cheeks", "rosier cheeks", "rouge", "rosier",
                    "blushed", "rosy cheeked", "ruddy", "color in her cheeks", "color in his cheeks",
                    "color to her cheeks", "color to his cheeks", "color in the cheeks",
                    "pink in her cheeks", "colored cheeks", "healthy glow", "redness", "pinker cheeks",
                    "redder cheeks", "pink cheeked", "pinker", "flush"),
    "big nose": ("big nose", "large nose", "bigger nose", "larger nose", "huge nose", "long nose",
                 "prominent nose", "wide nose", "longer nose", "wider nose", "bulbous nose"),
    "small nose": ("small nose", "smaller nose", "tiny nose", "little nose", "button nose",
                   "petite nose", "shorter nose", "narrower nose", "nose job", "thinner nose",
                   "slimmer nose"),
    "pointy nose": ("pointy nose", "pointed nose", "sharp nose", "pointier nose", "sharper nose",
                    "pointy", "hooked nose", "beak nose", "aquiline nose"),
    "big lips": ("big lips", "full lips", "fuller lips", "plump lips", "plumper lips", "bigger lips",
                 "large lips", "thick lips", "thicker lips", "pouty lips", "lip filler",
                 "lip fillers", "larger lips", "luscious lips", "pout", "pouty", "plumper"),
    "thin lips": ("thin lips", "thinner lips", "small lips", "smaller lips", "narrow lips"),
    "narrow eyes": ("narrow eyes", "narrower eyes", "squinting", "squint", "squinty",
                    "squinty eyes", "small eyes", "smaller eyes", "narrowed eyes", "squinted",
                    "squinting eyes", "half closed eyes", "sleepy eyes", "narrow eyed"),
    "wide eyes": ("wide eyes", "wider eyes", "big eyes", "bigger eyes", "large eyes",
                  "wide open eyes", "larger eyes", "open eyes", "wide eyed", "doe eyes"),
    "bags under eyes": ("bags under eyes", "bags under the eyes", "eye bags", "under eye bags",
                        "bags under his eyes", "bags under her eyes", "puffy eyes", "dark circles",
                        "tired eyes", "baggy eyes", "tired", "tired looking", "exhausted",
                        "sleepy", "eyebags", "undereye bags", "under eye circles", "sleep deprived"),
    "rested": ("well rested", "rested", "refreshed", "wide awake", "awake", "wake him up",
               "wake her up", "fresh eyes", "less tired"),
    "arched eyebrows": ("arched eyebrows", "arched brows", "arched", "arch eyebrows", "arch brows",
                        "high arched eyebrows", "arched eyebrow", "arch the eyebrows",
                        "raised eyebrows", "arched brow", "arch her eyebrows", "arch his eyebrows",
                        "raise her eyebrows", "raise his eyebrows", "raise the eyebrows",
                        "raised brows", "raise eyebrows"),
    "bushy eyebrows": ("bushy eyebrows", "bushy brows", "thick eyebrows", "thicker eyebrows",
                       "bushier eyebrows", "bushy", "heavy eyebrows", "unibrow", "thick brows",
                       "thicker brows", "bushier brows", "bushier", "heavier eyebrows",
                       "fuller eyebrows", "bigger eyebrows", "strong eyebrows", "stronger eyebrows",
                       "strong brows", "dark eyebrows", "darker eyebrows", "heavy brows",
                       "thick brows"),
    "thin eyebrows": ("thin eyebrows", "thinner eyebrows", "plucked eyebrows", "thin brows",
                      "thinner brows", "finer eyebrows",
                      "pluck eyebrows", "pluck brows", "plucked brows"),
    "high cheekbones": ("high cheekbones", "higher cheekbones", "cheekbones", "prominent cheekbones",
                        "sculpted cheekbones", "chiseled cheekbones", "defined cheekbones",
                        "cheek bones", "high cheek bones", "chiselled cheekbones"),
    "chubby": ("chubby", "chubbier", "fat", "fatter", "plump", "overweight", "heavyset", "chunky",
               "fuller face", "puffy face", "gain weight", "rounder face", "round face", "pudgy",
               "obese", "chubby cheeks", "chubbier face", "heavier set", "stout", "heavier",
               "fatten", "fatten him up", "fatten her up", "fattened"),
    "thin": ("thin", "thinner", "slim", "slimmer", "skinny", "skinnier", "slender", "lean",
             "leaner", "lose weight", "gaunt", "thin face", "slim face", "slimmer face",
             "thinner face", "lose some weight", "lost weight", "fit",
             "fitter", "slimmed", "weight loss", "narrower face",
             "slim down", "slimmed down", "slim him down", "slim her down"),
    "double chin": ("double chin", "second chin", "jowls", "double chinned", "jowly"),
    "oval face": ("oval face", "oval", "oval shaped face", "egg shaped face", "oval shaped",
                  "longer face", "long face"),
    "attractive": ("attractive", "pretty", "prettier", "handsome", "handsomer", "beautiful",
                   "gorgeous", "good looking", "better looking", "cute",
                   "cuter", "sexy", "lovely", "stunning", "beautify", "hotter", "beauty",
                   "glamour", "model looking", "sexier", "charming", "cutie"),
    "unattractive": ("ugly", "uglier", "unattractive", "homely", "hideous", "plainer"),
    "blurry": ("blurry", "blurrier", "blur", "blurred", "out of focus", "fuzzy", "soft focus",
               "unfocused", "blurriness", "blurring", "fuzzier", "hazy", "smudged"),
    "earrings": ("earrings", "earring", "ear rings", "studs", "hoops", "hoop earrings",
                 "ear piercing", "ear piercings", "ear ring", "ear jewelry"),
    "hat": ("hat", "cap", "beanie", "fedora", "baseball cap", "cowboy hat", "headwear",
            "top hat", "sun hat", "bonnet", "beret", "sombrero", "helmet", "headgear", "bowler hat",
            "trucker hat", "hatless"),
    "necklace": ("necklace", "chain", "pendant", "choker", "pearls", "pearl necklace",
                 "gold chain", "locket", "neck chain"),
    "necktie": ("necktie", "tie", "neck tie", "bow tie", "bowtie", "cravat", "neckties", "ties",
                "tied"),
    "mouth slightly open": ("mouth slightly open", "open mouth", "mouth open", "parted lips",
                            "open his mouth", "open her mouth", "opened mouth", "lips apart",
                            "open the mouth", "lips parted", "slightly open mouth",
                            "mouth a bit open", "mouth a little open", "mouth partly open",
                            "mouth opened", "gaping", "agape", "jaw dropped", "surprised", "shocked",
                            "astonished", "amazed", "in awe", "open mouthed"),
    "closed mouth": ("closed mouth", "mouth closed", "close the mouth", "shut mouth",
                     "lips together", "close his mouth", "close her mouth", "mouth shut",
                     "lips closed", "closed lips", "shut his mouth", "shut her mouth"),
    "blue eyes": ("blue eyes", "blue eyed", "blue eye", "bluer eyes", "azure eyes", "icy eyes",
                  "baby blue eyes", "blue irises", "ice blue eyes", "eyes blue", "bluer"),
}

# The far end of a slider in plain words: eye colours other than blue, lips without colour.
OTHER_END_CONCEPTS: dict[str, tuple[str, ...]] = {
    "brown eyes": ("brown eyes", "hazel eyes", "green eyes", "dark eyes", "gray eyes", "brown eyed",
                   "hazel eyed", "green eyed", "dark eyed", "brown irises", "hazel", "amber eyes"),
    "natural lips": ("natural lips", "bare lips", "natural lip color", "nude lips", "plain lips",
                     "lips natural", "lips bare"),
}
CONCEPTS.update(OTHER_END_CONCEPTS)

# Things people ask for that no CelebA attribute covers: named so the reply can say so.
UNSUPPORTED_CONCEPTS: dict[str, tuple[str, ...]] = {
    "red hair": ("red hair", "redhead", "ginger", "ginger hair", "auburn", "auburn hair",
                 "copper hair", "red haired"),
    "long hair": ("long hair", "longer hair"),
    "short hair": ("short hair", "shorter hair", "haircut", "pixie cut", "buzz cut", "bob cut"),
    "mole": ("mole", "beauty mark", "beauty spot", "birthmark", "birth mark"),
    "freckles": ("freckles", "freckle", "freckled"),
    "tattoo": ("tattoo", "face tattoo", "tattoos", "tattooed"),
    "piercing": ("piercing", "nose ring", "nose piercing", "lip ring", "septum ring"),
    "scar": ("scar", "scars", "scarred"),
}
CONCEPTS.update(UNSUPPORTED_CONCEPTS)

# When a concept has no attribute in the model, try these (concept, sign) in order.
FALLBACKS: dict[str, tuple[tuple[str, float], ...]] = {
    "old": (("young", -1.0),),
    "young": (("old", -1.0),),
    "female": (("male", -1.0),),
    "male": (("female", -1.0),),
    "frown": (("smile", -1.0),),
    "sad": (("frown", 1.0), ("smile", -1.0)),
    "dark skin": (("pale skin", -1.0),),
    "small nose": (("big nose", -1.0),),
    "thin lips": (("big lips", -1.0),),
    "wide eyes": (("narrow eyes", -1.0),),
    "thin eyebrows": (("bushy eyebrows", -1.0),),
    "thin": (("chubby", -1.0),),
    "unattractive": (("attractive", -1.0),),
    "closed mouth": (("mouth slightly open", -1.0),),
    "full hair": (("bald", -1.0),),
    "rested": (("bags under eyes", -1.0),),
    "lipstick": (("red lipstick", 1.0),),
    "red lipstick": (("lipstick", 1.0),),
    "curly hair": (("wavy hair", 1.0),),
    "wavy hair": (("curly hair", 1.0),),
    "5 o'clock shadow": (("beard", 0.5),),
}

# The nearest available attribute when a model lacks the one asked for: (concept, sign) in order.
# Unlike FALLBACKS (the same axis under another name, used silently), the reply says what was used
# instead ("Mustache isn't available; used beard instead").
NEAREST: dict[str, tuple[tuple[str, float], ...]] = {
    "mustache": (("beard", 1.0), ("goatee", 1.0)),
    "goatee": (("beard", 1.0), ("mustache", 1.0)),
    "sideburns": (("beard", 1.0),),
    "5 o'clock shadow": (("beard", 1.0),),
    "beard": (("goatee", 1.0), ("mustache", 1.0), ("5 o'clock shadow", 1.0)),
    "makeup": (("lipstick", 1.0), ("red lipstick", 1.0)),
    "lipstick": (("makeup", 1.0),),
    "red lipstick": (("makeup", 1.0),),
    "straight hair": (("curly hair", -1.0), ("wavy hair", -1.0)),
    "gray hair": (("old", 1.0),),
    "bald": (("receding hairline", 1.0),),
    "receding hairline": (("bald", 1.0),),
    "rosy cheeks": (("makeup", 1.0),),
}

# The other end of a slider: a concept the model lacks that a live slider departs from ("brown hair"
# after gray hair, "hazel eyes" after blue). Asking for it takes that slider back to 0.
OTHER_END: dict[str, tuple[str, ...]] = {
    "brown hair": ("gray hair", "blond hair"),
    "black hair": ("gray hair", "blond hair"),
    "blond hair": ("gray hair",),
    "brown eyes": ("blue eyes",),
    "natural lips": ("red lipstick", "lipstick"),
    "straight hair": ("curly hair", "wavy hair"),
    "full hair": ("bald",),
}


# Life stages and spelled-out ages (young or old concept).
LIFE_STAGES: dict[str, str] = {
    "teenager": "young", "college student": "young", "student": "young", "high schooler": "young",
    "fresh out of college": "young", "schoolboy": "young", "schoolgirl": "young", "twenty something": "young",
    "toddler": "young", "retiree": "old", "retired": "old", "old timer": "old", "pensioner": "old",
    "senior citizen": "old", "centenarian": "old", "octogenarian": "old", "septuagenarian": "old",
}

# Synonyms that always mean "take this concept away" ("make him clean-shaven" removes the beard).
REMOVAL_PHRASES: dict[str, str] = {
    "clean shaven": "beard", "clean shaved": "beard", "beardless": "beard", "shaven": "beard",
    "shave him": "beard", "shave his face": "beard", "clean face": "beard", "no makeup": "makeup",
    "bare face": "makeup", "barefaced": "makeup", "makeup free": "makeup", "natural face": "makeup",
    "hatless": "hat", "bareheaded": "hat", "neutral expression": "smile", "neutral face": "smile",
    "expressionless": "smile", "blank expression": "smile", "more neutral": "smile",
    "neutral look": "smile", "look neutral": "smile", "looks neutral": "smile",
    "in focus": "blurry", "unblur": "blurry",
    "deblur": "blurry", "un blur": "blurry", "de blur": "blurry", "sharp focus": "blurry",
}

# Raw attribute names (CelebA columns, older spellings) → (concept, sign).
ALIASES: dict[str, tuple[str, float]] = {
    "5 o clock shadow": ("5 o'clock shadow", 1.0), "heavy makeup": ("makeup", 1.0),
    "no beard": ("beard", -1.0), "smiling": ("smile", 1.0), "wearing earrings": ("earrings", 1.0),
    "wearing hat": ("hat", 1.0), "wearing lipstick": ("lipstick", 1.0),
    "wearing necklace": ("necklace", 1.0), "wearing necktie": ("necktie", 1.0),
    "glasses": ("eyeglasses", 1.0), "grey hair": ("gray hair", 1.0),
    "blonde hair": ("blond hair", 1.0), "moustache": ("mustache", 1.0), "old": ("old", 1.0),
    "thin": ("thin", 1.0),
}
# A bare face part with a size cue ("shrink his nose") means this concept.
HEAD_DEFAULTS = {"nose": "big nose", "lip": "big lips", "eyebrow": "bushy eyebrows",
                 "brow": "bushy eyebrows", "cheekbone": "high cheekbones"}

# Readable noun phrases for replies ("Added a smile", "Removed the eyeglasses").
ARTICLE_A = frozenset({"smile", "beard", "mustache", "goatee", "hat", "necklace", "necktie",
                       "double chin", "big nose", "pointy nose", "oval face", "receding hairline",
                       "5 o'clock shadow"})
POSITIVE_LABELS = {"young": "a younger look", "male": "a more masculine look",
                   "old": "an older look", "bald": "a bald head", "chubby": "a chubbier face",
                   "attractive": "a more attractive look", "blurry": "some blur",
                   "mouth slightly open": "a slightly open mouth", "oval face": "an oval face",
                   "narrow eyes": "narrower eyes", "pale skin": "paler skin",
                   "receding hairline": "a receding hairline"}
NEGATIVE_LABELS = {"young": "an older look", "male": "a more feminine look",
                   "smile": "a serious look", "old": "a younger look",
                   "chubby": "a slimmer face", "pale skin": "darker skin",
                   "big nose": "a smaller nose", "big lips": "thinner lips",
                   "narrow eyes": "wider eyes", "bald": "more hair",
                   "attractive": "a plainer look", "bushy eyebrows": "thinner eyebrows",
                   "mouth slightly open": "a closed mouth", "blurry": "a sharper look"}



@lru_cache(maxsize=8192)
def phrase_key(phrase: str) -> tuple[str, ...]:
    """The stemmed token tuple used to match a phrase."""
    return tuple(stem(t) for t in tokenize(phrase))


@lru_cache(maxsize=1024)
def concept_of(attribute: str) -> tuple[str, float]:
    """(concept, sign) for an attribute name; unknown names become their own concept."""
    key = " ".join(tokenize(attribute))
    if key in ALIASES:
        return ALIASES[key]
    for concept in CONCEPTS:
        if key == " ".join(tokenize(concept)):
            return concept, 1.0
    want = phrase_key(attribute)
    for concept, synonyms in CONCEPTS.items():
        if any(phrase_key(s) == want for s in synonyms):
            return concept, 1.0
    return key, 1.0
