"""A worked example: the differential for two patients the source articles describe.

Run with:  python examples/quickstart.py
"""

import numbdx

# A woman of 31, pregnant, whose left heel has gone numb, with swelling (heels article,
# "Numb heel: reasons": pregnancy, "only one leg may be affected").
pregnant = numbdx.infer(
    {"age": 31, "sex": "female", "pregnancy": True, "numb_heel": True, "numbness_side": "left", "swelling": True}
)
print(pregnant)
print()

# A man of 68 who smokes: sudden numbness of the right leg, speech disturbance and a drooping face
# (legs article, "When you need to see a doctor urgently").
stroke_signs = numbdx.infer(
    {
        "age": 68,
        "sex": "male",
        "smoking": True,
        "numbness_side": "right",
        "numbness_onset": "sudden",
        "speech_disturbance": True,
        "facial_distortion": True,
    }
)
print(stroke_signs.to_frame()[["label", "explains", "posterior", "prior", "red_flag"]].head(5).to_string())
print()
print("Model:", stroke_signs.model_identity)
