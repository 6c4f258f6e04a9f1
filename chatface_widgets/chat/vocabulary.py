"""Chat vocabulary: text normalisation, attribute synonyms, antonyms, cue words and strength adverbs.

Everything here is plain data plus a few pure functions; ``rules.py`` does the parsing.

* A *concept* is a face property with a canonical chat name ("smile", "eyeglasses", "old", "thin").
  ``CONCEPTS`` lists its synonyms. Some concepts are only ever reached through ``FALLBACKS``
  ("old" → young with sign −1 when the model has no "old" attribute, "thin" → chubby −1).
* An *attribute* is a name from an interpreter's list. ``concept_of`` maps any attribute name
  (chat name, CelebA name such as ``No_Beard``, or a custom mapper name) to ``(concept, sign)``.
* Matching works on normalised tokens (lower case, NFKC, "n't" → " not", grey → gray) compared by
  a light stem (a final "s" dropped), so plurals, case, underscores, hyphens and spacing agree.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# --- attribute concepts --------------------------------------------------------------------------

CONCEPTS: dict[str, tuple[str, ...]] = {
    "smile": ("smile", "smiling", "smiley", "grin", "grinning", "happy", "happier", "cheerful",
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
    "arched eyebrows": ("arched eyebrows", "arched brows", "arched", "arch eyebrows",
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

# Person nouns: after a determiner ("the lady", "my wife") they name who is in the photo, not an edit.
PERSON_NOUNS = frozenset({"man", "woman", "lady", "guy", "boy", "girl", "gentleman", "dude", "gal",
                          "men", "women", "husband", "wife", "father", "mother", "dad", "mom",
                          "person", "kid", "child", "grandpa", "grandma", "grandfather",
                          "grandmother", "teenager", "teen", "youngster", "senior", "elder"})
DETERMINERS = frozenset({"the", "my", "this", "that", "your", "our", "his", "her", "their", "these",
                         "those"})
# Things in the picture that are not the face: an adjective next to one describes it ("the sky gray").
SCENE_NOUNS = frozenset({"sky", "wall", "car", "background", "flower", "mug", "cup", "table",
                         "water", "lamp", "tree", "dog", "cat", "room", "lighting",
                         "house", "building", "floor", "window", "door", "chair", "bottle", "glass",
                         "plate", "sofa", "couch", "grass", "cloud", "sea", "road", "street", "bike",
                         "balloon", "vase", "curtain", "bed", "pillow", "book", "phone", "screen",
                         "scenery", "backdrop", "shirt", "dress", "jacket", "coat", "sweater"})

# Life stages and spelled-out ages (young or old concept).
LIFE_STAGES: dict[str, str] = {
    "teenager": "young", "college student": "young", "student": "young", "high schooler": "young",
    "fresh out of college": "young", "schoolboy": "young", "schoolgirl": "young", "twenty something": "young",
    "toddler": "young", "retiree": "old", "retired": "old", "old timer": "old", "pensioner": "old",
    "senior citizen": "old", "centenarian": "old", "octogenarian": "old", "septuagenarian": "old",
}
NUMBER_WORDS = {"ten": 10, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
                "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
                "teens": 15, "twenties": 20, "thirties": 30, "forties": 40, "fifties": 50,
                "sixties": 60, "seventies": 70, "eighties": 80, "nineties": 90, "decade": 10,
                "a decade": 10}

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

# Words after which an adjective names a part of the face: "make her hair blond", "nose bigger".
HEAD_NOUNS = frozenset({"hair", "eye", "nose", "lip", "cheek", "eyebrow", "brow", "skin", "face",
                        "cheekbone", "chin", "mouth", "complexion"})
# Other nouns an adjective may belong to instead ("a black hat and gray hair").
OTHER_NOUNS = frozenset({"hat", "cap", "shirt", "dress", "jacket", "suit", "background", "tie",
                         "glasse", "eyeglasse", "sunglasse", "frame", "lipstick", "makeup", "beard",
                         "mustache", "earring", "necklace", "teeth", "tooth", "ear", "photo",
                         "picture", "image", "clothe", "sweater", "top", "coat", "scarf", "sky",
                         "wall", "car", "dog", "cat", "shoe", "bag", "head", "forehead", "neck",
                         "leg", "arm", "body", "waist", "hand", "finger", "feet", "foot", "wig",
                         "nail", "fingernail", "eyelash", "lash", "belly", "stomach", "skirt",
                         "pant", "jean", "boot", "glove", "sock", "text", "font", "letter"})
# A bare face part with a size cue ("shrink his nose") means this concept.
HEAD_DEFAULTS = {"nose": "big nose", "lip": "big lips", "eyebrow": "bushy eyebrows",
                 "brow": "bushy eyebrows", "cheekbone": "high cheekbones"}
# Gender nouns right after another attribute describe, not request ("a bald guy").
GENDER_NOUNS = frozenset({"man", "guy", "boy", "woman", "girl", "lady", "gentleman", "dude", "gal",
                          "men", "women"})
# Words that make a message about something other than the face, whatever else it says.
HARD_OFF_TOPIC = frozenset({"text", "caption", "watermark", "logo", "sticker", "saying", "says",
                            "write", "written", "writing", "words", "letters", "quote", "font",
                            "poem", "joke", "story", "essay", "translate", "translation"})
# Interjections that may open a follow-up ("nah, too much", "hmm, more").
DISCOURSE = frozenset({"nah", "hmm", "hm", "ok", "okay", "well", "actually", "perfect", "great",
                       "nice", "good", "now", "yes", "yeah", "yep", "wow", "oh", "ah", "uh", "um",
                       "lol", "cool", "alright", "right", "hmmm", "mmm", "sure", "fine", "wait",
                       "again", "maybe", "hey", "ehh", "eh", "meh", "love", "it", "looks",
                       "that", "s", "still", "kinda", "bit", "way"})

# --- operation cues ------------------------------------------------------------------------------

SET, REMOVE, MORE, LESS, TOO_MUCH, ZERO, KEEP = ("set", "remove", "more", "less", "too_much", "zero",
                                                "keep")

CUES: dict[str, str] = {}
for _kind, _words in (
    (SET, ("add", "adding", "give", "put", "make", "want", "need", "apply", "with", "wear",
           "wearing", "have", "get", "show", "turn", "change", "set", "let", "would like",
           "include", "grow", "bring back", "bring", "sport", "try", "like", "love", "prefer",
           "transform", "convert", "become", "look", "looking", "render", "create", "generate")),
    (REMOVE, ("remove", "removing", "removed", "no", "without", "get rid of", "rid of", "rid",
              "do not want", "not want", "do not like", "not like", "take off", "take away",
              "take out", "lose", "ditch", "drop", "delete", "erase", "eliminate", "strip", "minus",
              "no more", "none", "not", "never", "off", "away", "gone", "cut", "hide", "omit",
              "exclude", "discard", "disable", "turn off", "switch off", "wipe", "wipe off",
              "clean off", "stop", "lose the", "free of", "sans", "w o", "nix", "scrap", "kill",
              "do not need", "not need", "no longer", "un",
              "get off", "come off", "go away", "leave out", "cancel", "unsmile",
              "do away with", "hate", "dislike", "neither", "nor", "not have", "not wear",
              "not wearing", "not be", "shave", "shave off", "has to go", "have to go",
              "must go", "needs to go", "need to go", "gotta go", "should go", "can go",
              "take it off", "got to go", "ought to go", "fix", "repair", "correct", "treat",
              "cure", "heal", "clean up", "get rid", "hide the")),
    (KEEP, ("keep", "leave", "retain", "preserve", "do not touch", "do not change", "leave alone",
            "as is", "unchanged", "untouched", "stay", "stays", "keeping",
            "do not remove", "not remove", "do not take", "intact", "same")),
    (MORE, ("more", "stronger", "bigger", "larger", "increase", "increased", "boost", "intensify",
            "amplify", "enhance", "heighten", "deepen", "exaggerate", "emphasize", "emphasise",
            "accentuate", "further", "higher", "raise", "up", "crank up", "turn up",
            "dial up", "pump up", "not enough", "bolder", "darker", "longer", "wider", "fuller",
            "brighter", "stronger", "heavier", "thicker", "strengthen", "even more", "greater",
            "push", "push it", "double", "maximize", "enlarge", "grow it", "widen", "thicken",
            "lengthen", "maximise",
            "too little", "too weak",
            "too subtle", "too faint", "too small", "too light", "too slight", "too mild",
            "too soft", "barely visible", "hardly visible", "more of", "again", "louder",
            "more obvious", "more visible", "more pronounced", "noticeable", "more noticeable",
            "go further", "keep going", "increasing", "intensified", "bump", "bump up",
            "a notch up", "notch up", "crank it up", "turn it up", "push it further",
            "stand out", "more visible", "could be wider", "could be bigger")),
    (LESS, ("less", "weaker", "smaller", "reduce", "reduced", "decrease", "lower", "lessen",
            "soften", "softer", "subtler", "tone down", "dial back", "dial down", "turn down",
            "scale back", "lighter", "thinner", "shorter", "fainter", "weaken", "diminish",
            "minimize", "minimise", "trim", "narrower", "not so", "not as", "back off", "fewer",
            "milder", "gentler", "down", "tone", "tone it down", "tame", "calm down", "calmer",
            "reduce the", "less of", "not as much", "not so much", "lower the", "downplay",
            "subdue", "subdued", "lighten", "decreasing", "lessened", "softened", "shrink",
            "shorten", "tidy up", "thin out", "trim down",
            "shrunk", "narrow", "dial it back", "dial it down", "bring it down", "take it down",
            "halfway back", "back a bit", "a notch down", "notch down", "turn it down")),
    (TOO_MUCH, ("too much", "overdone", "over the top", "excessive", "a bit much", "way too much",
                "too far", "over done", "too strong", "too big", "too intense", "too heavy",
                "too extreme", "too obvious", "too pronounced", "too dark", "too large",
                "too thick", "too bright", "too red", "too long", "too wide", "overboard",
                "overkill", "too", "exaggerated", "over exaggerated", "too many", "halve",
                "halve it", "half as much", "cut in half", "cut it in half")),
    (ZERO, ("reset", "undo", "zero", "neutralize", "neutralise", "revert", "neutral",
            "back to normal", "back to zero", "to zero", "restore")),
):
    for _w in _words:
        CUES.setdefault(_w, _kind)

# Cues that may follow the attribute they change ("make the smile bigger", "glasses off").
POSTFIX_CUES = frozenset({
    "more", "stronger", "bigger", "larger", "less", "weaker", "smaller", "off", "away", "gone",
    "too much", "overdone", "over the top", "excessive", "a bit much", "way too much", "too far",
    "over done", "too strong", "too big", "too intense", "too heavy", "too extreme", "too obvious",
    "too pronounced", "too dark", "too large", "too thick", "too bright", "too red", "too long",
    "too wide", "overboard", "overkill", "too", "exaggerated", "over exaggerated", "too many",
    "not enough", "too little", "too weak", "too subtle", "too faint", "too small", "too light",
    "too slight", "too mild", "too soft", "barely visible", "hardly visible", "darker", "longer",
    "wider", "fuller", "brighter", "heavier", "thicker", "higher", "lower", "lighter", "thinner",
    "shorter", "fainter", "softer", "subtler", "milder", "gentler", "narrower", "up", "down",
    "more obvious", "more visible", "more pronounced", "more noticeable", "bolder", "greater",
    "has to go", "have to go", "must go", "needs to go", "need to go", "gotta go", "should go",
    "can go", "got to go", "ought to go", "stay", "stays", "as is", "unchanged", "untouched",
    "intact",
    "again", "even more", "increased", "reduced", "calmer", "subdued", "lessened", "softened",
    "intensified", "louder", "further",
})

# Cues that only ever follow their attribute ("the hat has to go", "glasses off").
POSTFIX_ONLY = frozenset({"has to go", "have to go", "must go", "needs to go", "need to go",
                          "gotta go", "should go", "can go", "got to go", "ought to go", "off",
                          "away", "gone"})
# Cues that may close a clause after their attribute ("glasses: remove") but never reach back
# over another attribute.
POSTFIX_FINAL = frozenset({"remove", "removed", "delete", "deleted", "erase", "erased"})

# Words after "too" that mean "not enough" rather than "too much" ("the smile is too subtle").
TOO_WEAK_WORDS = frozenset({"little", "weak", "subtle", "faint", "small", "light", "slight",
                            "mild", "soft"})
# Words after "too" that mean "also" ("add glasses too please").
TOO_ALSO_WORDS = frozenset({"please", "thanks", "thank", "and", "then", "as", "well", "pls",
                            "plz", "now", "also", "ok", "okay", "if", "for", "thx", "maybe", "but",
                            "lol", "i", "with", "while", "so", "yeah", "yes"})

# --- strength adverbs ----------------------------------------------------------------------------

SMALL, MEDIUM, STRONG, MAXIMUM, INTENSIFIER = 0.25, 0.4, 0.8, 1.0, -1.0
ADVERBS: dict[str, float] = {}
for _value, _words in (
    (SMALL, ("slightly", "slight", "a little", "a little bit", "little", "a bit", "bit", "a tad",
             "tad", "a touch", "touch", "a touch of", "a hint of", "hint", "hint of", "subtle",
             "subtly", "light", "lightly", "faint", "faintly", "mild", "mildly", "gentle", "gently",
             "soft", "softly", "small", "tiny", "minor", "barely", "a smidge", "smidge",
             "marginally", "not too much", "not too strong", "not much", "not too", "delicate",
             "delicately", "just a bit", "a wee bit", "wee", "teeny", "modest", "modestly",
             "some", "a few", "minimal", "minimally", "trace", "a trace of", "a bit of",
             "not very", "a tiny bit", "tiny bit", "ever so slightly",
             "natural", "naturally", "discreet", "lite", "nothing too", "nothing too big",
             "nothing too strong", "nothing too much", "nothing crazy", "nothing extreme",
             "nothing dramatic", "nothing over the top", "not too big", "not overly",
             "not over the top", "not too obvious", "not too heavy", "not too dark",
             "nothing too heavy", "nothing too obvious", "nothing too dramatic", "nothing big",
             "nothing major", "nothing fancy", "but subtle", "keep it subtle", "keep it light",
             "not a huge one", "not a big one", "not huge", "not big", "not a lot",
             "but not too much", "not a strong one", "not an extreme one")),
    (MEDIUM, ("somewhat", "moderately", "moderate", "medium", "fairly", "kind of", "kinda",
              "sort of", "sorta", "partially", "partly", "reasonably", "rather", "halfway",
              "half", "normal", "average", "regular", "decent", "decently")),
    (0.6, ("quite", "pretty much", "noticeably", "visibly", "clearly visible", "definitely")),
    (STRONG, ("a lot", "lots of", "a lot of", "lot", "much", "big", "strong", "strongly", "heavy",
              "heavily", "deep", "deeply", "huge", "large", "intense", "intensely", "bold",
              "boldly", "thick", "dramatic", "dramatically", "significantly", "considerably",
              "pronounced", "wide", "broad", "way", "far", "lots", "massively", "tons of",
              "loads of", "seriously", "greatly", "very much", "a great deal", "plenty of",
              "heaps of", "major", "obvious", "obviously", "striking", "vivid",
              "vibrant", "bright", "dark", "big time",
              "loud", "giant", "hefty", "generous", "generously", "radiant", "lush")),
    (MAXIMUM, ("extremely", "extreme", "maximum", "max", "maximal", "full", "fully", "completely",
               "totally", "entirely", "absolutely", "as much as possible", "all the way",
               "massive", "enormous", "insanely", "ridiculously", "crazy", "fullest",
               "to the max", "utterly", "super strong", "incredibly", "immensely", "hugely",
               "tremendously", "maxed", "maxed out", "100", "strongest", "biggest", "most",
               "totally", "super duper", "insane", "gigantic", "colossal", "very very",
               "really really", "extra large", "exceptionally", "overwhelmingly")),
    (INTENSIFIER, ("very", "really", "so", "super", "real", "extra")),
):
    for _w in _words:
        ADVERBS.setdefault(_w, _value)

# Tokens that make a synonym comparative ("older", "bigger nose"): they grow from the current value.
COMPARATIVES = frozenset({
    "older", "younger", "bigger", "larger", "fuller", "plumper", "thicker", "curlier", "wavier",
    "straighter", "grayer", "blonder", "paler", "darker", "rosier", "pointier", "narrower", "wider",
    "smaller", "shorter", "thinner", "slimmer", "skinnier", "fatter", "chubbier", "happier",
    "sadder", "prettier", "cuter", "uglier", "balder", "hairier", "bluer", "longer", "higher",
    "lighter", "bushier", "manlier", "sexier", "hotter", "handsomer", "fitter", "leaner", "tanner",
    "whiter", "blacker", "browner", "redder", "fairer", "friendlier", "heavier", "finer", "more",
    "plainer", "fuzzier", "blurrier",
})
NEGATIONS = frozenset({"not", "never", "no", "do not", "nor", "neither"})
# "swap X for Y", "from X to Y", "Y instead of X": the first loses, the second gains.
SWAP_LINKS = {"swap": ("for", "with"), "replace": ("with", "by"), "switch": ("for", "with", "to"),
              "exchange": ("for", "with"), "trade": ("for",), "change": ("to", "into"),
              "turn": ("to", "into"), "convert": ("to", "into"), "transform": ("to", "into"),
              "go": ("to",), "goes": ("to",), "from": ("to", "into")}
INSTEAD = (("instead", "of"), ("rather", "than"), ("in", "place", "of"))

INTENSIFIED_SMALL = 0.15  # "very slightly"
INTENSIFIED_STRONG = 1.0  # "very big"
INTENSIFIER_ALONE = 0.8  # "very"

# --- steps (time steps of the DDIM decode) -------------------------------------------------------

QUALITY_LEVELS = (8, 20, 50)  # the paper's 8 (default), a clearer 20, and its maximum 50
STEP_WORDS: dict[str, str] = {}
for _level, _words in (
    ("up", ("clear", "clearer", "clarity", "sharp", "sharper", "sharpen", "sharpened", "crisp",
            "crisper", "detailed", "more detail", "more details", "better quality", "good quality",
            "higher quality", "refine", "refined", "cleaner", "less noise", "less noisy", "denoise",
            "focus", "focused", "polish", "polished", "improve quality", "improve the quality",
            "enhance quality", "enhance the quality", "more steps", "more time steps",
            "increase steps", "increase the steps", "finer", "finer detail", "nicer quality",
            "sharpness", "detail", "details", "higher resolution", "quality", "more quality",
            "less grainy", "cleaner image", "better image", "better render", "smoother")),
    ("max", ("high quality", "highest quality", "best quality", "max quality", "maximum quality",
             "top quality", "best possible", "hq", "hd", "high res", "high resolution", "hi res",
             "4k", "8k", "ultra", "photorealistic", "very sharp", "super sharp", "very clear",
             "crystal clear", "as sharp as possible", "perfect quality", "final render",
             "full quality", "best result", "best results", "best render", "ultra sharp",
             "super clear", "highest detail", "maximum detail", "max detail", "print quality",
             "studio quality", "very high quality", "best", "finest", "premium", "razor sharp",
             "pristine", "flawless quality", "as clear as possible")),
    ("min", ("fast", "faster", "quick", "quicker", "quickly", "speed", "speedy", "draft",
             "preview", "low quality", "lower quality", "rough", "hurry", "rapid", "fewer steps",
             "less steps", "speed up", "lower steps", "less time", "quick preview", "fastest",
             "quickest", "lowest quality", "cheap", "cheaper", "in a hurry", "rush")),
):
    for _w in _words:
        STEP_WORDS.setdefault(_w, _level)

STEPS_RANGE = (8, 50)  # the paper's slot range for time steps; explicit requests are clamped to it

# --- whole-message intents -----------------------------------------------------------------------

UNDO_PHRASES = ("undo", "undo that", "undo it", "go back", "revert", "revert that", "step back",
                "take that back", "never mind", "nevermind", "cancel that", "cancel", "back",
                "ctrl z", "oops", "scratch that", "roll back", "rollback", "revert it",
                "previous", "previous version", "go back one step", "the previous one",
                "undo last", "undo the last change", "undo the last edit", "undo last change",
                "one step back", "no not like that", "not like that", "that s wrong",
                "that was wrong", "i did not mean that", "no", "nope", "no no", "nah",
                "put it back", "change it back", "undo please", "back please", "last version",
                "revert the last change", "reverse that", "reverse", "go back a step",
                "return to previous", "return to the previous version", "undo the last step",
                "take it back", "back one step", "undo this", "not what i wanted",
                "that s not what i wanted", "that is not what i wanted", "i do not like it",
                "i do not like that", "back up")
REDO_PHRASES = ("redo", "redo that", "redo it", "re do", "redo please", "redo the last change",
                "ctrl y", "ctrl shift z", "bring it back", "redo last", "redo the change",
                "reapply", "re apply")
RESET_PHRASES = ("reset", "start over", "start again", "start from scratch", "from scratch",
                 "original", "back to original", "back to the original", "restore",
                 "restore the original", "clear all", "clear everything", "remove all",
                 "remove everything", "undo everything", "undo all", "reset all",
                 "reset everything", "revert all", "revert everything", "back to the start",
                 "remove all edits", "get rid of everything", "clean slate", "fresh start",
                 "reset the sliders", "reset sliders", "clear the edits", "remove all changes",
                 "undo all changes", "original photo", "original image", "original face",
                 "show the original", "go back to the original", "the original", "no edits",
                 "remove the edits", "remove edits", "reset edits", "reset it", "reset please",
                 "start fresh", "begin again", "revert to original", "revert to the original",
                 "discard all", "discard everything", "discard changes", "discard all changes",
                 "all back to zero", "everything back to zero", "zero everything",
                 "reset to default", "reset to defaults", "defaults", "default", "unedited",
                 "the unedited photo", "restart", "wipe everything", "wipe all", "clear edits",
                 "remove all the edits", "undo everything please", "start all over",
                 "go back to the start", "clear sliders", "reset the face", "revert changes",
                 "revert all changes", "cancel everything", "cancel all", "cancel all edits",
                 "undo every change", "back to normal", "return to original", "as it was",
                 "like it was")
GREETINGS = ("hi", "hello", "hey", "hiya", "howdy", "good morning", "good afternoon",
             "good evening", "yo", "greetings", "sup", "what s up", "hey there", "hi there",
             "hello there", "morning", "evening", "heya", "hallo", "hola", "bonjour", "ciao",
             "hei", "hej", "salut", "ola", "ahoy", "g day", "howdy partner", "hello hello")
THANKS = ("thanks", "thank you", "thx", "ty", "cheers", "great", "perfect", "awesome", "nice",
          "cool", "love it", "looks good", "good job", "well done", "ok", "okay", "lol", "wow",
          "thank you so much", "thanks a lot", "much appreciated", "that s great", "great job",
          "excellent", "amazing", "brilliant", "fantastic", "good", "that s perfect", "fine",
          "looks great", "beautiful work", "yes", "yep", "yeah", "sure", "alright", "all right",
          "that works", "sounds good", "i love it", "nice work", "k", "kk", "haha", "hah",
          "good stuff", "super", "thanks so much", "many thanks", "ta", "gracias", "merci",
          "danke", "that s it", "done", "bye", "goodbye", "see you", "that s all", "stop",
          "keep it", "keep that", "keep this", "keep it like that", "leave it", "leave it like that",
          "good as is", "leave it as is", "happy with it", "happy with that", "happy with this",
          "i m happy with it", "i am happy with it", "nothing else", "no further changes",
          "no more changes", "no more edits", "we re finished", "we are finished", "finished",
          "we re done", "we are done", "we re good", "we are good", "all good", "all set",
          "that ll do", "enough for now", "i m done", "i am done", "stop here", "no thanks",
          "done here", "that s all for today", "thanks a bunch", "nothing more", "nope",
          "no further edits", "it s perfect", "needed", "for today", "here", "bunch", "nah")
HELP_PHRASES = ("help", "what can you do", "options", "commands", "attributes", "list",
                "how does this work", "what do you support", "capabilities", "what can i do",
                "what can i say", "what can you change", "what can you edit", "menu",
                "what are my options", "what is possible", "what works", "how do i use this",
                "what attributes", "list attributes", "show attributes", "which attributes",
                "what edits", "supported edits", "instructions", "usage", "what should i type",
                "how to use", "who are you", "what are you", "what do you do", "examples",
                "give me examples", "show me examples", "tutorial", "guide", "features")

# Messages about something else entirely: a word from here and no attribute or edit request.
OFF_TOPIC_WORDS = frozenset({
    "joke", "poem", "story", "weather", "recipe", "news", "stock", "stocks", "capital",
    "president", "translate", "code", "program", "python", "javascript", "song", "lyrics", "movie",
    "movies", "book", "books", "essay", "email", "homework", "math", "calculate", "summarize",
    "summarise", "explain", "define", "history", "facts", "fact", "trivia", "population",
    "football", "soccer", "election", "bitcoin", "crypto", "pizza", "restaurant", "flight",
    "flights", "hotel", "password", "meaning", "universe", "population", "recommend", "sql",
    "function", "compile", "wikipedia", "politics", "sports", "score", "game", "tomorrow",
    "yesterday", "dinner", "lunch", "breakfast", "capitol", "country", "countries", "planet",
    "equation", "integral", "derivative", "invented", "invent", "inventor", "forecast",
    "temperature", "traffic", "directions", "address", "phone", "birthday", "holiday", "vacation",
    "salary", "job", "interview", "resume", "cv", "tax", "taxes", "bank", "loan", "insurance",
    "medicine", "doctor", "symptoms", "diagnose", "disease", "vaccine", "song", "music", "album",
    "band", "guitar", "chess", "poetry", "novel", "author", "wrote", "write", "haiku", "limerick",
    "riddle", "quiz", "synonym", "spell", "spelling", "grammar", "language", "languages",
    "philosophy", "religion", "god", "consciousness", "ai", "chatgpt", "gpt", "llm", "weights",
    "gpu", "cuda", "server", "website", "internet", "wifi", "computer",
    "laptop", "iphone", "android", "app", "download", "install", "bug", "error", "crash",
    "debug", "shopping", "buy", "sell", "price", "cost", "cheapest", "store", "amazon",
    "currency", "dollar", "euro", "exchange", "date", "alarm",
    "timer", "reminder", "calendar", "schedule", "meeting", "car", "drive", "train", "bus",
    "airport", "visa", "passport", "travel", "trip", "map", "capital", "mountain", "ocean",
    "river", "animal", "dog", "cat", "pet", "plant", "garden", "cook", "cooking", "bake", "cake",
    "cookie", "wine", "beer", "coffee", "tea", "drink", "exercise", "workout", "diet", "sleep",
    "dream", "horoscope", "zodiac", "lottery", "bet", "casino",
})
# Openings of questions about something else ("how old are you?"), unless an edit verb follows.
QUESTION_STARTS = (("how", "old"), ("who",), ("why",), ("what", "is"), ("what", "s"), ("whats",),
                   ("what", "are"), ("where",), ("when",), ("do", "you"), ("are", "you"),
                   ("how", "do"), ("how", "does"), ("how", "many"), ("how", "much"),
                   ("tell", "me"), ("explain",), ("what", "time"), ("which",), ("did", "you"),
                   ("is", "he"), ("is", "she"), ("does", "he"), ("does", "she"), ("what", "color"),
                   ("what", "kind"), ("can", "you", "tell"), ("how", "are"), ("what", "was"),
                   ("whose",), ("whom",), ("how", "is"), ("have", "you"), ("will", "you", "marry"))
# Verbs that make a question an edit request ("can you add glasses?").
QUESTION_OVERRIDE_VERBS = frozenset({
    "add", "give", "put", "make", "remove", "change", "turn", "apply", "set", "increase",
    "decrease", "reduce", "take", "edit", "transform", "convert", "dye", "modify", "adjust",
    "tweak", "delete", "erase", "lose", "ditch", "grow", "rid", "drop", "wear", "boost", "more",
    "less", "bigger", "smaller", "stronger", "weaker", "without", "shave", "straighten",
})
# Words a bare follow-up may contain ("make the effect a bit stronger").
REFERENCE_WORDS = frozenset({"effect", "edit", "edits", "change", "changes", "last", "previous",
                             "result", "slider", "strength", "intensity", "amount", "level",
                             "that", "it", "this", "one", "same", "even", "still", "way",
                             "bit", "notch", "step", "tad", "little", "lot", "again", "further",
                             "go", "keep", "going", "turn", "dial", "crank", "pump", "tone",
                             "is", "was", "now", "looks", "look", "seems", "please", "make",
                             "just", "little", "bit", "much", "the", "a", "an", "too", "way",
                             "do", "can", "you", "could", "would", "more", "less", "so"})
# Words around undo / redo / reset ("undo the last change please").
INTENT_FILLERS = frozenset({"last", "change", "changes", "edit", "edits", "all", "everything",
                            "step", "previous", "one", "please", "that", "it", "this", "the",
                            "to", "go", "back", "again", "now", "just", "can", "you", "could",
                            "would", "let", "s", "us", "me", "i", "want", "everything", "face",
                            "photo", "image", "picture", "state", "version", "slider",
                            "sliders", "ok", "okay", "so", "hey", "hmm", "um", "actually",
                            "oh", "oops", "well", "let", "start", "over", "from", "a", "an",
                            "and", "then", "like", "was", "before", "earlier", "original",
                            "do", "make", "take", "undo", "redo", "reset", "revert"})
# Words around a step request ("use 30 denoising steps").
STEP_FILLERS = frozenset({"use", "using", "step", "steps", "timesteps", "timestep", "iterations",
                          "iteration", "t", "ddim", "denoising", "decoding", "sampling", "render",
                          "rendering", "run", "time", "times", "instead", "result", "output",
                          "version", "mode", "settings", "setting"})
# Filler words dropped before embedding a phrase or naming an unknown request.
STOPWORDS = frozenset({
    "a", "an", "the", "please", "can", "could", "would", "will", "you", "u", "i", "me", "my",
    "him", "her", "his", "hers", "them", "their", "they", "he", "she", "it", "its", "this",
    "that", "these", "those", "to", "of", "for", "on", "in", "at", "by", "some", "any", "be",
    "is", "are", "was", "were", "do", "does", "did", "just", "maybe", "also", "too", "so",
    "look", "looks", "looking", "like", "bit", "little", "kind", "sort", "and", "or", "but",
    "then", "now", "again", "there", "here", "what", "how", "who", "why", "when", "where",
    "which", "if", "we", "us", "our", "your", "yours", "person", "face", "photo", "picture",
    "image", "pic", "guy", "lady", "one", "thing", "stuff", "bit", "lot", "very", "really", "up",
    "down", "out", "into", "onto", "over", "from", "as", "than", "let", "s", "ll", "d", "ve",
    "re", "m", "t", "should", "shall", "might", "must", "may", "want", "need", "wanna", "gonna",
    "get", "got", "make", "made", "give", "add", "put", "have", "has", "had", "with", "without",
    "not", "no", "yes", "more", "less", "much", "many", "ok", "okay", "hey", "hi", "thanks",
    "pls", "plz", "someone", "somebody", "all", "everything", "something", "anything",
})

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

# --- normalisation -------------------------------------------------------------------------------

MAX_CHARS = 4000  # longer messages are read up to here (a chat message, not a document)
_CONTRACTIONS = (
    (re.compile(r"\b(can)['’]t\b"), r"\1 not"), (re.compile(r"\bwon['’]t\b"), "will not"),
    (re.compile(r"\bshan['’]t\b"), "shall not"), (re.compile(r"n['’]t\b"), " not"),
    (re.compile(r"\b(do|does|did|is|are|was|were|should|could|would|have|has)nt\b"), r"\1 not"),
    (re.compile(r"\bdont\b"), "do not"), (re.compile(r"\bcant\b"), "can not"),
    (re.compile(r"\bwont\b"), "will not"), (re.compile(r"\bw/o\b"), "without"),
    (re.compile(r"\bw/\s"), "with "),
)
_SPELLING = {"grey": "gray", "greyer": "grayer", "greying": "graying", "colour": "color",
             "moustache": "mustache", "moustaches": "mustaches", "eyeglass": "eyeglasses",
             "sun-glasses": "sunglasses", "blondish": "blond", "beardy": "bearded",
             "wanna": "want to", "gimme": "give me", "pls": "please", "plz": "please",
             "thru": "through", "abit": "a bit", "alittle": "a little", "alot": "a lot",
             "abt": "about", "smilier": "smiley", "smilling": "smiling", "smille": "smile",
             "glases": "glasses", "glassess": "glasses", "eyeglases": "eyeglasses",
             "beared": "bearded", "mustash": "mustache", "mustach": "mustache",
             "lipstik": "lipstick", "makup": "makeup", "blong": "blond", "curley": "curly",
             "wavey": "wavy", "olde": "old", "yonger": "younger", "younge": "young",
             "earings": "earrings", "earing": "earring", "necklase": "necklace",
             "eyebrow": "eyebrow", "eye brows": "eyebrows", "eye brow": "eyebrow",
             "cheek bones": "cheekbones"}
_TOKEN = re.compile(r"(?<![\w.])[-−]?\d+/\d+(?![\w.])|(?<![\w.])\d+(?:\.\d+)?x\b|"
                    r"(?<![\w.])[-−]?\d+(?:\.\d+)?%?|(?<![\w])\.\d+%?|[^\W_]+|[.,;!?&+]")
_NUMBER_WORDS = (  # numbers in chat, written one way before tokenising (see rules.py "Numbers")
    (re.compile(r"(?<=\d),(?=\d{3}\b)"), ""),  # 1,000 -> 1000
    (re.compile(r"(?<=\d)\s*(?:percent|per cent|pct)\b"), "%"),  # 80 percent -> 80%
    (re.compile(r"(?<=\d)\s*[x×](?=\s|$|[.,;!?])"), "x"),  # 2 x, 2× -> 2x
    (re.compile(r"(?<![\w.])[x×]\s*(\d+(?:\.\d+)?)\b"), r"\1x"),  # x2 -> 2x
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202f\ufeff]")


def normalise(text: str) -> str:
    """Lower-case, NFKC, control characters to spaces, contractions expanded, grey → gray."""
    text = unicodedata.normalize("NFKC", str(text)[:MAX_CHARS]).lower()
    text = _CONTROL.sub(" ", text).replace("’", "'").replace("‘", "'").replace("_", " ")
    text = text.replace("\u2044", "/")  # NFKC writes ½ as 1⁄2 (fraction slash)
    for pattern, repl in _NUMBER_WORDS:
        text = pattern.sub(repl, text)
    for pattern, repl in _CONTRACTIONS:
        text = pattern.sub(repl, text)
    text = re.sub(r"(^|[\s,;:])[-−](?=[^\W\d_])", r"\1 remove ", text)
    text = re.sub(r"(^|[\s,;:])\+(?=[^\W\d_])", r"\1 add ", text)
    text = re.sub(r"(?<=\w)-|-(?!\.?\d)", " ", text).replace("'", " ")
    for wrong, right in _SPELLING.items():
        if wrong in text:
            text = re.sub(rf"\b{re.escape(wrong)}\b", right, text)
    return re.sub(r"\s+", " ", text).strip()


def tokenize(text: str) -> list[str]:
    """Words, numbers and clause punctuation of normalised text."""
    return _TOKEN.findall(normalise(text))


def stem(word: str) -> str:
    """A light singular: drop a final "s" unless the word ends in ss, us or is (or is short)."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


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

