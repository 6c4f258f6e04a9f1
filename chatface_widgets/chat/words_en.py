"""English grammar words: cues, adverbs, negations, fillers, intents; nothing that names an attribute."""

from __future__ import annotations

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

NUMBER_WORDS = {"ten": 10, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
                "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
                "teens": 15, "twenties": 20, "thirties": 30, "forties": 40, "fifties": 50,
                "sixties": 60, "seventies": 70, "eighties": 80, "nineties": 90, "decade": 10,
                "a decade": 10}

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
                "halve it", "half as much", "cut in half", "cut it in half", "half as")),
    (ZERO, ("reset", "undo", "zero", "neutralize", "neutralise", "revert", "neutral",
            "back to normal", "back to zero", "to zero", "restore", "down to zero")),
):
    for _w in _words:
        CUES.setdefault(_w, _kind)

# Leave an attribute out: "forget the hat", "skip the earrings", "don't add glasses". Nothing is
# edited (an edit of our own in that direction is taken back).
EXCLUDE = "exclude"
for _w in ("forget", "forget about", "skip", "never mind", "nevermind", "no need for",
           "hold off on", "not do", "pass on", "not bother with", "leave off", "rather not"):
    CUES.setdefault(_w, EXCLUDE)
for _w in ("ask for", "asked for", "ask", "asked"):
    CUES.setdefault(_w, SET)
# Verbs that add something new: negated ("don't add glasses", "didn't ask for a hat") they exclude
# the attribute instead of removing it from the photo.
ADD_VERBS = frozenset({"add", "adding", "give", "put", "include", "apply", "ask for", "asked for",
                       "ask", "asked", "do", "try"})

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
    "intensified", "louder", "further", "to 0", "back to 0", "down to 0", "half as", "half as much",
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
             "barely noticeable", "hardly noticeable", "barely there", "just noticeable",
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
                   ("what", "does"), ("what", "do"),
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

# --- clause boundaries ---------------------------------------------------------------------------

BOUNDARY_PUNCT = frozenset({".", ",", ";", "!", "?", "&", "+"})
SOFT_BOUNDARIES = frozenset({",", "and", "or", "nor", "&", "+", "plus"})  # lists share their cue
BOUNDARY_WORDS = frozenset({"and", "but", "then", "also", "plus", "while", "or", "nor", "however",
                            "though", "although", "additionally", "afterwards"})
SENTENCE_END = frozenset({".", "!", "?", ";"})
WIDE_FILLERS = INTENT_FILLERS | STOPWORDS | STEP_FILLERS
# Words that may open a message answering the previous turn ("No. Make her smile.", "Hmm, no,").
ANSWERS = frozenset({"no", "nope", "nah", "hmm", "hm", "hmmm", "well", "ok", "okay", "actually",
                     "wait", "oh", "ah", "um", "uh"})
NO_WORDS = frozenset({"no", "nope", "nah"})
# A number right after these is the strength itself ("down to 0.2", "at 20%"), not a change by it.
ABSOLUTE_BEFORE = frozenset({"to", "at", "="})
# Common English words one letter away from an attribute word: never read as its typo
# ("order" is not "older", "board" is not "beard").
COMMON_WORDS = frozenset({
    "order", "orders", "board", "block", "blood", "ball", "bale", "band", "bold", "sale", "page",
    "pile", "palm", "heir", "hail", "grit", "gain", "mile", "lisp", "wary", "navy", "then", "than",
    "when", "were", "where", "there", "these", "those", "smite", "later", "under", "other", "mother",
    "brother", "cheap", "check", "chest", "grown", "crown", "blade", "blame", "bland",
    "brand", "blend", "blind", "glare", "class", "grass", "brass", "curry", "curvy",
    "world", "would", "could", "should", "wheel", "while", "white", "whole", "smell", "small",
    "spell", "still", "style", "stale", "scale", "shale", "shade", "shape", "share",
    "stare", "store", "story", "glare", "great", "treat", "tread", "bread", "heard",
    "years", "year", "yours", "tears", "lines", "lives", "lions", "lipid", "teens",
    "happen", "having", "maker", "makes", "males", "mode", "more", "move", "hole", "role",
    "rule", "pole", "cake", "came", "name", "same", "game", "fame", "tame", "lame", "fear", "gear",
    "near", "dear", "bear", "tear", "wear", "year", "hear", "pear", "rear", "sear",
    "prey", "pray", "tray", "play", "clay", "okay", "glue", "clue", "true", "flue",
    "ayes", "dyes", "lies", "ties", "pies", "skim", "skit", "spin",
    "shin", "hurl", "purl", "earl", "pearl", "save", "cave", "gave",
    "have", "nave", "rave", "tale", "vale", "kale", "gale", "hale", "dale",
})
# Self-corrections inside one message ("glasses, no wait, a beard"; "more beard, I mean less").
# Multi-word markers stand anywhere; one-word ones only after punctuation ("..., actually, ...").
CORRECTION_MARKERS = (("no", "wait"), ("wait", "no"), ("actually", "no"), ("no", "actually"),
                      ("i", "mean"), ("i", "meant"), ("scratch", "that"), ("or", "rather"),
                      ("no", "sorry"), ("sorry", "no"), ("correction",), ("wait",), ("actually",),
                      ("no",), ("sorry",), ("rather",), ("oops",))
# Words around a correction marker that belong to neither side ("sorry, I meant", "err, I mean").
CORRECTION_FILLERS = frozenset({",", ".", ";", "!", "?", "sorry", "oh", "err", "erm", "um", "uh",
                                "hmm", "hm", "well", "no", "wait", "oops", "ah", "nope", "nah"})
# Statements, not requests ("she is 40", "he has a beard", "I like the glasses", "nice smile").
SUBJECTS = frozenset({"i", "he", "she", "they", "we", "it", "that", "this"})
POSSESSIVES = frozenset({"my", "his", "her", "their", "our", "your"})
STATIVE_VERBS = frozenset({"is", "are", "was", "were", "am", "m", "has", "have", "had", "wear",
                           "wears", "wore", "turned", "turns", "s", "like", "likes", "love", "loves"})
STATIVE_CUES = frozenset({"have", "wear", "wearing", "like", "love"})  # cues that may state a fact
LIKING_VERBS = frozenset({"like", "likes", "love", "loves"})  # a fact only about "the" thing there
APPROVAL = frozenset({"good", "great", "right", "fine", "perfect", "nice", "lovely", "ok", "okay",
                      "amazing", "awesome", "beautiful", "cool", "fantastic", "gorgeous", "wonderful",
                      "spot"})
# Words that make a clause a request however it is phrased ("she should be 40", "I want him bald").
REQUEST_WORDS = frozenset({"should", "could", "would", "d", "want", "wants", "wanted", "wish",
                           "need", "needs", "to", "make", "let", "please", "can", "will", "ll",
                           "give", "add", "more", "less", "too", "enough", "if", "how", "try",
                           "maybe", "instead", "look", "looking", "become", "be", "again",
                           "still", "remove", "get", "put", "going", "getting", "becoming",
                           "turning", "go"})
