"""Learning from the person's choices: thumbs on replies, side-by-side pairs, and a small
personal reward model that picks the best of several sampled replies.

- ``store``: the choices, an append-only JSON-lines file in the home;
- ``features``: what the reward model sees of a reply (style numbers + its MiniLM vector);
- ``pairs``: explicit pairs plus pairs made from thumbs;
- ``reward``: Bradley-Terry logistic regression (numpy), its held-out accuracy;
- ``summary``: what the person seems to prefer, in words, into the profile;
- ``bestof``: best-of-N among sampled candidates within a latency budget;
- ``hook``: where ``Pipeline.reply`` asks for best-of-N (typed, unspoken questions);
- ``replies``: the reply a thumb is about; two replies side by side;
- ``service``: the one object the CLI, the pipeline and the app use.
"""
